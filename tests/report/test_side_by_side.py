"""``autotts report RUN RUN --out PAGE``: two discovery runs (a full search and its
``--no-beta`` ablation) side by side, rendered by a real headless Chromium."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.report.test_html_report import _chromium, _console_errors, _need_browser, _rendered


def _autotts(*args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "autotts.cli.main", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("side")
    candidates = root / "candidates"
    candidates.mkdir()
    for name in ("01_first_votes.py", "05_quick_agreement.py"):
        (candidates / name).write_text((ROOT / "examples" / "candidates" / name).read_text())
    args = [
        "--data", "synthetic", "--candidates", str(candidates), "--models", "Synth-Small",
        "--betas", "0,0.5,1", "--seeds", "2", "--heldout-seeds", "2", "-w", "1", "--quiet",
    ]  # fmt: skip
    full, ablated = root / "full", root / "no-beta"
    for out, extra in ((full, []), (ablated, ["--no-beta"])):
        done = _autotts("discover", "--out", str(out), *args, *extra)
        assert done.returncode == 0, done.stderr
    return full, ablated


def test_several_runs_need_a_page_name(two_runs: tuple[Path, Path]) -> None:
    done = _autotts("report", *map(str, two_runs))
    assert done.returncode == 2 and "--out" in done.stderr and "Traceback" not in done.stderr
    missing = _autotts("report", str(two_runs[0]), str(two_runs[0].parent / "nothing"), "--out",
                       str(two_runs[0].parent / "x.html"))  # fmt: skip
    assert missing.returncode == 2 and "no discovery run" in missing.stderr


def test_the_page_lists_what_differs_and_each_runs_held_out_result(
    two_runs: tuple[Path, Path], tmp_path: Path
) -> None:
    page = tmp_path / "compare.html"
    done = _autotts("report", *map(str, two_runs), "--out", str(page))
    assert done.returncode == 0, done.stderr
    text = page.read_text()
    assert "<script" not in text and not re.search(r'(src|href)="(https?:)?//', text)
    differing = text.split('id="settings"')[1].split('id="heldout"')[0]
    assert "<td>--no-beta</td><td>False</td><td>True</td>" in differing
    # what the runs share is named, not listed as a difference
    assert "<td>search models</td>" not in differing
    assert "The same in every run:" in differing and "search models" in differing
    held = text.split('id="heldout"')[1].split('id="curves"')[0]
    assert held.count("<tr><td>full</td>") == 1 and held.count("<tr><td>no-beta</td>") == 1
    assert " at β = 1</td>" in held  # the ablation's selection: its one point
    assert held.count("95 %") >= 1 and held.count(" over ") >= 2  # a gain per run


def test_chromium_draws_both_selections_on_one_chart(
    two_runs: tuple[Path, Path], tmp_path: Path
) -> None:
    _need_browser()
    page = tmp_path / "compare.html"
    done = _autotts("report", *map(str, two_runs), "--out", str(page))
    assert done.returncode == 0, done.stderr
    assert _console_errors(_chromium(page, tmp_path / "compare.png")) == []
    charts = {c["title"]: c["entries"] for c in _rendered(page)["charts"]}
    search = next(e for t, e in charts.items() if t.startswith("Each run's selection"))
    labels = [e["label"] for e in search]
    assert [label.split(":")[0] for label in labels if "selected round" in label] == [
        "full",
        "no-beta",
    ]
    assert "CMC (baseline)" in labels
    selected = [e for e in search if "selected round" in e["label"]]
    assert len({e["colour"] for e in selected}) == 2  # each run its own colour
    held = next(e for t, e in charts.items() if t.startswith("Held-out"))
    assert {"full (selected)", "no-beta (selected)", "CMC β=1.0"} <= {e["label"] for e in held}
    assert not [e["label"] for c in charts.values() for e in c if e["cut"]]
