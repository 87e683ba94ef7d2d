"""A real ``autotts discover --proposer scripted`` run on the shared replay data.

Five rounds: a weak valid controller, a broken one, a peeking one, CMC and a
quick-agreement controller. The broken and peeking ones must be rejected with
their reasons, CMC selected, and its held-out numbers (reference protocol,
100 seeds) equal to the rows ``autotts table`` prints for CMC β=1.0.
The search phase uses 2 models × 2 β × 3 seeds to keep the test's cost down.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import autotts.checking
from tests.conftest import ROOT

MODELS = "Qwen3-0.6B,Qwen3-8B"
CANDIDATES = ROOT / "examples" / "candidates"


def _discover(out: Path, replay: Path, candidates: Path) -> subprocess.CompletedProcess[str]:
    command = [
        sys.executable, "-m", "autotts.cli.main", "discover",
        "--out", str(out), "--data", str(replay), "--candidates", str(candidates),
        "--models", MODELS, "--betas", "0.5,1", "--seeds", "3",
    ]  # fmt: skip
    return subprocess.run(command, capture_output=True, text=True, timeout=900)


def _table(replay: Path) -> list[dict[str, Any]]:
    command = [
        sys.executable, "-m", "autotts.cli.main", "table", "--data", str(replay),
        "--models", MODELS, "--benchmarks", "aime25,hmmt25", "--json", "--quiet",
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, check=True)
    rows: list[dict[str, Any]] = json.loads(done.stdout)
    return rows


def _check_run(out: Path, replay: Path, cmc_name: str) -> None:
    index = [json.loads(line) for line in (out / "index.jsonl").read_text().splitlines()]
    assert [e["round"] for e in index] == [1, 2, 3, 4, 5]
    by_name = {e["name"]: e for e in index}
    assert by_name["02_broken"]["verdict"] == "rejected"
    assert by_name["02_broken"]["reason"] == "crash"
    assert by_name["03_peeking"]["verdict"] == "rejected"
    assert by_name["03_peeking"]["reason"] in {"peeking", "forbidden"}
    peeking = json.loads((out / "rounds/0003/check.json").read_text())
    assert "information it had not paid to see" in peeking["detail"]
    assert any("_table" in advice for advice in peeking["advice"])  # the static audit's word
    for name in ("01_first_votes", cmc_name, "05_quick_agreement"):
        assert by_name[name]["verdict"] == "accepted", by_name[name]
    selection = json.loads((out / "selection.json").read_text())
    assert selection["name"] == cmc_name
    assert selection["beta"] == 1.0
    assert selection["rule"] == "accuracy"
    heldout = json.loads((out / "heldout.json").read_text())
    assert heldout["protocol"]["seeds"] == list(range(100))
    ours = [p for p in heldout["points"] if p["method"].startswith("round 4: ")]
    assert len(ours) == 4  # 2 models × (aime25, hmmt25)
    table = _table(replay)
    cmc_rows = {(r["model"], r["benchmark"]): r for r in table if r["method"] == "CMC β=1.0"}
    for point in ours:
        row = cmc_rows[(point["model"], point["benchmark"])]
        assert point["accuracy"] == row["accuracy"]
        assert point["tokens"] == row["tokens"]
        assert point["seq_tokens"] == row["seq_tokens"]
    # the baselines beside it are the table's rows, too
    table_rows = {(r["model"], r["benchmark"], r["method"]): r for r in table}
    baselines = [p for p in heldout["points"] if not p["method"].startswith("round")]
    assert len(baselines) == len(table_rows)
    for point in baselines:
        row = table_rows[(point["model"], point["benchmark"], point["method"])]
        assert (point["accuracy"], point["tokens"]) == (row["accuracy"], row["tokens"])
    digest = (out / "rounds/0004/traces.md").read_text()
    assert "Qwen3-8B/aime24" in digest and "WRONG" in digest


@pytest.mark.slow
def test_five_scripted_rounds_select_cmc_and_match_the_table(
    tmp_path: Path, shared_replay_dir: Path
) -> None:
    out = tmp_path / "run"
    done = _discover(out, shared_replay_dir, CANDIDATES)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    assert "rejected (peeking)" in done.stderr and "rejected (crash)" in done.stderr
    assert "selected round 4 (04_confidence_momentum" in done.stdout
    _check_run(out, shared_replay_dir, "04_confidence_momentum")


@pytest.mark.slow
@pytest.mark.skipif(
    getattr(autotts.checking, "PLACEHOLDER", False),
    reason="upstream-format candidates need the real sandbox/upstream loader (issue 6)",
)
def test_cmc_in_the_upstream_file_format_is_selected(
    tmp_path: Path, shared_replay_dir: Path
) -> None:
    folder = tmp_path / "candidates"
    shutil.copytree(CANDIDATES, folder)
    (folder / "04_confidence_momentum.py").unlink()
    shutil.copy(ROOT / "examples" / "upstream" / "cmc_upstream.py", folder / "04_cmc_upstream.py")
    out = tmp_path / "run"
    done = _discover(out, shared_replay_dir, folder)
    assert done.returncode == 0, done.stderr
    _check_run(out, shared_replay_dir, "04_cmc_upstream")
