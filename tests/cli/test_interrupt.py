"""Ctrl-C during a long command keeps what finished and exits with 130, without tracebacks."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPLAY = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "replay"


@pytest.mark.slow
@pytest.mark.skipif(not REPLAY.is_dir(), reason="needs ../shared/data/replay")
@pytest.mark.parametrize("workers", ["1", "2"])
def test_ctrl_c_during_table_writes_finished_rows(tmp_path: Path, workers: str) -> None:
    out = tmp_path / "partial.json"
    command = [sys.executable, "-m", "autotts.cli.main", "table", "--data", str(REPLAY)]
    # Long enough for a few rows, far from the whole table; a loaded machine may need
    # longer before the first row is done, so the wait grows until one is.
    for wait in (4.0, 10.0, 25.0):
        process = subprocess.Popen(
            [*command, "--workers", workers, "--json", "--out", str(out)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        time.sleep(wait)
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=60)
        if process.returncode == 0:
            pytest.skip("the table finished before the interrupt")
        assert process.returncode == 130, err
        assert "Traceback" not in err
        assert "interrupted" in err
        if out.exists() and json.loads(out.read_text()):  # [] when no row had finished
            break
    rows = json.loads(out.read_text())
    assert 0 < len(rows) < 72
    assert {"model", "benchmark", "method", "accuracy"} <= set(rows[0])


EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "first_agreement.py"


@pytest.mark.parametrize("workers", ["1", "2"])
def test_ctrl_c_during_eval_exits_130_quietly(workers: str) -> None:
    command = [sys.executable, "-m", "autotts.cli.main", "eval", "--data", "synthetic"]
    # The episode-by-episode run of 12,000 episodes takes several seconds even on the
    # lean path, so the interrupt lands mid-run, not while the process is exiting. On a
    # loaded machine it can land while Python is still importing, before the CLI runs
    # (Python's own start-up then dies of the signal, -2): wait longer and try again.
    for wait in (2.5, 6.0, 15.0):
        process = subprocess.Popen(
            [*command, "-c", str(EXAMPLE), "--workers", workers, "--seeds", "400", "-q"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        time.sleep(wait)
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=60)
        if process.returncode != -signal.SIGINT:
            break
    if process.returncode == 0:
        pytest.skip("the evaluation finished before the interrupt")
    assert process.returncode == 130, err
    # Nothing but the word, after any one-line warning (e.g. bubblewrap missing here).
    lines = [line for line in err.strip().splitlines() if not line.startswith("warning: ")]
    assert lines == ["interrupted"], err


def _sweep_interrupted(workers: str, wait: float) -> tuple[int, str, str]:
    """A sweep printing JSON to stdout (``sweep --json > f``), Ctrl-C'd as a terminal
    does it: SIGINT to the whole process group, pool processes included."""
    command = [sys.executable, "-m", "autotts.cli.main", "sweep", "--data", "synthetic"]
    process = subprocess.Popen(
        [*command, "-c", str(EXAMPLE), "--betas", "0:1:0.05", "--seeds", "100", "--json",
         "-q", "--workers", workers],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )  # fmt: skip
    time.sleep(wait)
    os.killpg(process.pid, signal.SIGINT)
    out, err = process.communicate(timeout=120)
    return process.returncode, out, err


@pytest.mark.parametrize("workers", ["1", "2"])
def test_ctrl_c_during_sweep_json_to_stdout_leaves_valid_json(workers: str) -> None:
    code, out, err = _sweep_interrupted(workers, 6.0)
    if code == 0:
        pytest.skip("the sweep finished before the interrupt")
    assert code == 130, err
    rows = json.loads(out)  # a whole document, [] when nothing had finished
    assert isinstance(rows, list) and len(rows) < 21
    # one line, not "interrupted" twice
    lines = [line for line in err.strip().splitlines() if not line.startswith("warning: ")]
    assert lines == [f"interrupted: writing the {len(rows)} of 21 finished rows"]
