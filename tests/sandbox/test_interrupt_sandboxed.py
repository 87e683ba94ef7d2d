"""Ctrl-C during a sandboxed evaluation: exit 130, one line, and the worker is gone too."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.sandbox.conftest import descendants

SLOW = (
    "import time\n\nfrom autotts import Controller\n\n\nclass Slow(Controller):\n"
    "    def __init__(self, beta=0.5):\n        self.beta = beta\n\n"
    "    def solve(self, session):\n        time.sleep(0.05)\n        return session.full_read()\n"
)


def test_ctrl_c_stops_the_evaluator_and_its_worker(tmp_path: Path, small_store: Path) -> None:
    path = tmp_path / "slow.py"
    path.write_text(SLOW)
    command = [sys.executable, "-m", "autotts.cli.main", "eval", "-c", f"{path}:Slow"]
    process = subprocess.Popen(
        [*command, "--data", str(small_store), "-m", "Synth-Small", "-B", "aime24"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 30
    workers: set[int] = set()
    while not workers and time.monotonic() < deadline:  # wait until the worker runs
        time.sleep(0.2)
        workers = descendants(process.pid)
    time.sleep(1.0)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=30)
    assert workers, "the sandboxed worker never started"
    assert process.returncode == 130, err
    assert "Traceback" not in err and "interrupted" in err
    time.sleep(0.5)
    # A dead process whose parent died stays a zombie until PID 1 reaps it: not alive.
    alive = [p for p in workers if _state(p) not in {None, "Z"}]
    assert not alive


def _state(pid: int) -> str | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return None
