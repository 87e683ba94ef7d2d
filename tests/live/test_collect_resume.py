"""``autotts collect``: Ctrl-C loses nothing finished, a rerun resumes; dry run; bad input."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

from autotts.data.loading import load_replay
from tests.live.servers import autotts
from tests.live.test_collect_roundtrip import assert_same


def collect_args(upstream: dict[str, Any], questions: Path, out: Path) -> list[str]:
    return autotts(
        "collect",
        "--base-url",
        upstream["url"],
        "--model",
        "R",
        "--questions",
        str(questions),
        "--answer-field",
        "gold_answer",
        "--n",
        "12",
        "--delta",
        "500",
        "--max-tokens",
        "100000",
        "--concurrency",
        "2",
        "--out",
        str(out),
    )


def test_interrupted_collection_resumes(tmp_path: Path, random_upstream: dict[str, Any]) -> None:
    questions = tmp_path / "questions.json"
    questions.write_text(json.dumps(random_upstream["document"]))
    out = tmp_path / "out" / "R" / "bench.json"
    partial = out.with_name(out.name + ".partial.jsonl")
    process = subprocess.Popen(
        collect_args(random_upstream, questions, out), stderr=subprocess.PIPE, text=True
    )
    deadline = time.monotonic() + 120
    while not (partial.exists() and len(partial.read_text().splitlines()) >= 2):
        assert process.poll() is None and time.monotonic() < deadline
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    assert "interrupted" in err and "Traceback" not in err
    assert not out.exists()
    finished = len(partial.read_text().splitlines()) - 1
    assert 1 <= finished < len(random_upstream["document"])

    rerun = subprocess.run(
        collect_args(random_upstream, questions, out), capture_output=True, text=True, timeout=300
    )
    assert rerun.returncode == 0, rerun.stderr
    sampled = len(random_upstream["document"]) - finished
    assert f"{sampled} sampled now" in rerun.stderr
    assert_same(load_replay(random_upstream["path"]), load_replay(out))

    again = subprocess.run(
        collect_args(random_upstream, questions, out), capture_output=True, text=True, timeout=60
    )
    assert again.returncode == 2 and "--overwrite" in again.stderr


def test_dry_run_calls_nothing(tmp_path: Path) -> None:
    questions = tmp_path / "q.jsonl"
    questions.write_text('{"question": "a"}\n{"question": "b"}\n')
    result = subprocess.run(
        autotts(
            "collect",
            "--base-url",
            "http://127.0.0.1:9/v1",
            "--model",
            "m",
            "--questions",
            str(questions),
            "--n",
            "4",
            "--delta",
            "100",
            "--max-tokens",
            "1000",
            "--probe-tokens",
            "10",
            "--out",
            str(tmp_path / "x.json"),
            "--dry-run",
        ),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    # 2 questions x 4 trajectories x (10 chunks + 10 probes); tokens 1000 + 10 x 10 each
    assert "at most 160 requests and 8,800 generated tokens" in result.stdout
    assert not (tmp_path / "x.json").exists()


def test_unreachable_server_is_one_line(tmp_path: Path) -> None:
    questions = tmp_path / "q.jsonl"
    questions.write_text('{"question": "a"}\n')
    result = subprocess.run(
        autotts(
            "collect",
            "--base-url",
            "http://127.0.0.1:9/v1",
            "--model",
            "m",
            "--questions",
            str(questions),
            "--n",
            "1",
            "--retries",
            "0",
            "--out",
            str(tmp_path / "x.json"),
        ),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].startswith("error: http://127.0.0.1:9/v1: ")
    assert "Traceback" not in result.stderr
