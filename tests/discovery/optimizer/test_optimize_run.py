"""``autotts optimize`` end to end on the synthetic store, as real processes:
a run killed with SIGKILL (the whole process group) resumes without losing or
double-counting rounds, selects, exports a loadable file and writes held-out curves."""

from __future__ import annotations

import itertools
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from autotts.controllers.registry import ControllerSpec, build
from autotts.discovery.records import RoundEntry, Selection
from autotts.report.html import LISTED_ROUNDS, render_report
from autotts.sandbox.live_client import SandboxedController
from tests.helpers import run_index

CLI = [sys.executable, "-m", "autotts.cli.main"]
FAST = ["--data", "synthetic", "--replay-seeds", "2", "--trials-per-round", "2", "--workers", "2"]


@pytest.mark.slow
def test_optimize_killed_then_resumed(tmp_path: Path) -> None:
    run = tmp_path / "run"
    process = subprocess.Popen(
        [*CLI, "optimize", "--out", str(run), *FAST, "--time-budget", "120", "--no-heldout"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    deadline = time.monotonic() + 100
    while len(run_index(run)) < 2 and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.5)
    os.killpg(process.pid, signal.SIGKILL)  # parent and workers at once, like a power cut
    process.communicate(timeout=30)
    before = run_index(run)
    assert len(before) >= 2, "no round was written before the kill"

    export = tmp_path / "winner.py"
    done = subprocess.run(
        [*CLI, "optimize", "--out", str(run), "--resume", "--time-budget", "6",
         "--export", str(export), "--heldout-seeds", "2"],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    assert "trials" in done.stderr  # progress lines with the frontier

    index = run_index(run)
    assert [e["round"] for e in index] == list(range(1, len(index) + 1))  # no round twice
    for study in {e.get("study") for e in index if e.get("trials")}:
        ranges = [e["trials"] for e in index if e.get("trials") and e.get("study") == study]
        assert all(a[1] < b[0] for a, b in itertools.pairwise(ranges))  # never in two rounds
    assert index[: len(before)] == before  # finished rounds untouched by the resume
    selection = json.loads((run / "selection.json").read_text())
    assert selection["round"] == index[-1]["round"] and index[-1]["name"] == "opt-winner"
    # the optimiser's records read into the typed ones and back, key for key
    for record, data in [(RoundEntry, e) for e in index] + [(Selection, selection)]:
        assert json.dumps(record.from_dict(data).to_dict()) == json.dumps(data)
    winner = run / "rounds" / f"{selection['round']:04d}"
    assert json.loads((winner / "check.json").read_text())["verdict"] == "accepted"
    assert export.read_text() == (winner / "candidate.py").read_text()
    # The exported file loads like any other: in the sandbox unless trusted.
    exported = build(ControllerSpec(f"{export}:{selection['class']}", 0.5))
    assert isinstance(exported, SandboxedController) and exported.params()["n_init"] >= 1

    heldout = json.loads((run / "heldout.json").read_text())
    assert {p["benchmark"] for p in heldout["points"]} == {"aime25", "hmmt25"}
    assert {p["method"] for p in heldout["points"]} == {"winner", "cmc", "sc"}
    assert [g["cmc_beta"] for g in heldout["gains"]] == [0.5, 1.0]
    for key in ("round", "beta"):
        assert key in heldout["selection"]

    # The report states the run's verdict at CMC's two budgets, by the β its search chose
    # (not by a mean over its curves), and shows its operating points; past a dozen
    # rounds, the unselected ones share one legend entry.
    page = render_report(run)
    assert "within its tokens" in page and "the β the search set chose for it" in page
    for row in ("CMC β=0.5", "CMC β=1.0", "SC@64"):
        assert f"<td>{row}</td>" in page
    accepted = [e for e in index if e.get("aggregate")]
    others = len(re.findall(r'<g class="legend-entry">(?:(?!</g>).)*other rounds \(', page))
    assert others == (1 if len(accepted) > LISTED_ROUNDS else 0)


def test_bad_sampler_is_a_one_line_error(tmp_path: Path) -> None:
    done = subprocess.run(
        [*CLI, "optimize", "--out", str(tmp_path / "r"), "--data", "synthetic", "--sampler", "x"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode != 0
    assert "Traceback" not in done.stderr and "sampler" in done.stderr
