"""A round's folder holds what re-running it needs, and ``autotts eval`` reproduces its
numbers."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from autotts.discovery.api import discover
from tests.conftest import ROOT


def test_curves_come_out_the_same_with_autotts_eval(tmp_path: Path) -> None:
    run = discover(
        tmp_path / "run", candidates=ROOT / "examples" / "candidates", data="synthetic",
        models=["Synth-Small"], betas=[0.0, 0.5, 1.0], seeds=3, rounds=1, heldout_seeds=2,
    )  # fmt: skip
    folder = run.path / "rounds" / "0001"
    curves = json.loads((folder / "curves.json").read_text())
    assert curves["controller"] == "candidate.py:FirstVotes"
    assert curves["protocol"] == {"name": "reference", "seeds": [0, 1, 2]}
    assert curves["betas"] == [0.0, 0.5, 1.0]
    assert [d["model"] for d in curves["data"]] == ["Synth-Small"] and curves["data"][0]["sha256"]
    for point in curves["points"]:
        command = [
            sys.executable, "-m", "autotts.cli.main", "eval", "--data", "synthetic",
            "-m", point["model"], "-B", point["benchmark"], "--seeds", "3", "--json",
            "-c", f"{folder / 'candidate.py'}:FirstVotes", "--beta", str(point["beta"]),
        ]  # fmt: skip
        done = subprocess.run(command, capture_output=True, text=True, check=True, timeout=120)
        metrics = json.loads(done.stdout)["metrics"]
        assert (metrics["accuracy"], metrics["tokens"]) == (point["accuracy"], point["tokens"])
        assert metrics["accuracy_ci95"] == point["accuracy_ci95"]


def test_a_crash_the_check_missed_rejects_the_round(tmp_path: Path) -> None:
    folder = tmp_path / "candidates"
    folder.mkdir()
    (folder / "a.py").write_text(
        "from autotts import Controller, Session\n\n\n"
        "class OnlySomeBetas(Controller):\n"
        "    def __init__(self, beta: float = 0.5) -> None:\n"
        "        self.beta = beta\n\n"
        "    def solve(self, session: Session) -> str | None:\n"
        "        if self.beta == 0.25:\n"
        "            raise RuntimeError('no schedule for this beta')\n"
        "        return session.full_read()\n"
    )
    run = discover(
        tmp_path / "run", candidates=folder, data="synthetic", models=["Synth-Small"],
        betas=[0.0, 0.25, 0.5, 1.0], seeds=2, rounds=1,
    )  # fmt: skip
    (entry,) = run.rounds()
    assert (entry.verdict, entry.reason) == ("rejected", "crash")
    check = json.loads((run.path / "rounds/0001/check.json").read_text())
    assert "no schedule for this beta" in check["detail"]
    selection = run.selection()
    assert selection is not None and selection.round is None
