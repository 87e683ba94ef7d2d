"""Ctrl-C during a sampled trace run still writes the sample drawn so far."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPLAY = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "replay"


@pytest.mark.slow
@pytest.mark.skipif(not REPLAY.is_dir(), reason="needs ../shared/data/replay")
def test_ctrl_c_writes_the_trace_sample(tmp_path: Path) -> None:
    traces = tmp_path / "sample.jsonl"
    command = [sys.executable, "-m", "autotts.cli.main", "eval", "--data", str(REPLAY)]
    command += ["-m", "Qwen3-4B", "-B", "aime24", "-c", "cmc", "--beta", "1"]
    command += ["--traces", str(traces), "--traces-sample", "5"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(5.0)  # a few hundred of the 3,000 episodes, far from all of them
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=60)
    if process.returncode == 0:
        pytest.skip("the run finished before the interrupt")
    assert process.returncode == 130, err
    assert "Traceback" not in err
    lines = [json.loads(line) for line in traces.read_text().splitlines()]
    assert len(lines) == 5
    keys = [(line["replicate"], line["question_index"]) for line in lines]
    assert keys == sorted(keys)
    assert all(line["trace"][-1]["event"] == "finish" for line in lines)
