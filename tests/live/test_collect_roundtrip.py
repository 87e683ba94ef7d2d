"""replay-server on loopback -> ``autotts collect`` rebuilds the replay file it serves."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from autotts.data.loading import load_replay
from autotts.data.records import ReplaySet
from tests.controllers.random_replay import random_document
from tests.live.servers import autotts, free_port, running, write_store


def shortest_branches(path: Path, questions: int, branches: int) -> list[dict[str, Any]]:
    """The first questions of a public file, keeping each one's shortest branches (fast)."""
    document = json.loads(path.read_text(encoding="utf-8"))[:questions]
    for item in document:
        item["each_branch"] = sorted(item["each_branch"], key=lambda b: b[1])[:branches]
        item["final_answers_trace"] = [b[2] for b in item["each_branch"]]
    return document


def assert_same(a: ReplaySet, b: ReplaySet) -> None:
    assert len(a) == len(b)
    assert a.gold == b.gold
    for qa, qb in zip(a.questions, b.questions):
        assert qa.text == qb.text
        assert qa.probe_freq == qb.probe_freq
        assert qa.answer_strings == qb.answer_strings
        np.testing.assert_array_equal(qa.tokens, qb.tokens)
        np.testing.assert_array_equal(qa.n_probes, qb.n_probes)


@pytest.mark.parametrize("source", ["public", "random"])
def test_collect_rebuilds_the_served_file(
    source: str, tmp_path: Path, shared_replay_dir: Path
) -> None:
    if source == "public":
        document = shortest_branches(shared_replay_dir / "Qwen3-4B" / "aime24.json", 3, 4)
    else:
        document = random_document(11, questions=4, branches=5)
    served = write_store(tmp_path / "store", "M", "bench", document)
    questions = tmp_path / "questions.json"
    questions.write_text(json.dumps(document), encoding="utf-8")
    n = len(document[0]["each_branch"])
    out = tmp_path / "rebuilt" / "M" / "bench.json"
    port = free_port()
    server = autotts(
        "replay-server", "--data", str(tmp_path / "store"), "--model", "M", "--port", str(port)
    )
    with running(server, port) as base:
        result = subprocess.run(
            autotts(
                "collect",
                "--base-url",
                f"{base}/v1",
                "--model",
                "M",
                "--questions",
                str(questions),
                "--answer-field",
                "gold_answer",
                "--n",
                str(n),
                "--delta",
                "500",
                "--max-tokens",
                "100000",
                "--concurrency",
                "4",
                "--out",
                str(out),
            ),
            capture_output=True,
            text=True,
            timeout=300,
        )
    assert result.returncode == 0, result.stderr
    assert_same(load_replay(served), load_replay(out))
    side = out.with_name(out.name + ".side.jsonl").read_text().splitlines()
    assert json.loads(side[0])["settings"]["plan"]["n"] == n
    assert len(side) == 1 + len(document)
    assert not out.with_name(out.name + ".partial.jsonl").exists()
