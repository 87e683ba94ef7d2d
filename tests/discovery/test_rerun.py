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
    folder = run.path / "rounds" / "0000"
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
