"""``optimize``'s held-out progress: a few lines, not one per cell (136 in a log file)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from autotts.cli.optimize_cmd import _Printer

ROOT = Path(__file__).resolve().parents[2]


def test_held_out_progress_is_a_few_lines(capsys: pytest.CaptureFixture[str]) -> None:
    printer = _Printer(quiet=False)
    for done in range(1, 137):
        printer({"phase": "heldout", "done": done, "total": 136})
    lines = capsys.readouterr().err.splitlines()
    # the first and the last cell (and one every 10 s between, none in this fast loop)
    assert [line.split()[-1] for line in lines] == ["1/136", "136/136"]


def test_the_run_folder_of_the_readme_is_ignored_by_git() -> None:
    done = subprocess.run(
        ["git", "check-ignore", "-q", "run/run.json"], cwd=ROOT, capture_output=True
    )
    assert done.returncode == 0
