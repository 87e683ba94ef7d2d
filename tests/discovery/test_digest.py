"""Trace digests: from the env's read events when present, else from decisions and finish."""

from __future__ import annotations

from typing import Any

from autotts.discovery.digest import digest_episode, trace_digest
from autotts.evaluation.runner import EpisodeRecord


def _read(branch: int, depth: int, answer: str) -> dict[str, Any]:
    return {
        "event": "read",
        "input": {"branch": branch, "depth": depth, "full": False},
        "output": {"answer": answer, "finished": False},
        "state": {"charged": 500, "tokens": 500 * (depth + 1)},
    }


def _record(q: int, correct: bool, cost: float, steps: list[dict[str, Any]]) -> EpisodeRecord:
    finish = {
        "event": "finish",
        "output": {"answer": "7", "tokens": cost, "gold": "7" if correct else "9"},
        "state": {"branches_opened": 3},
        "decision": "controller returned",
    }
    return EpisodeRecord(0, q, "7", correct, cost, cost / 3, [*steps, finish])


def test_read_events_give_width_depth_and_a_late_changing_majority() -> None:
    steps = [_read(0, 0, "7"), _read(1, 0, "9"), _read(2, 0, "9"), _read(1, 1, "7")]
    steps.append({"event": "stop_check", "output": {"leader": "7"}, "decision": "two agree"})
    text = digest_episode(_record(4, False, 2000.0, steps))
    assert "3 first reads (width), 1 deeper reads (depth)" in text
    assert "gold '9'" in text and "WRONG" in text
    assert "stopped after stop_check: two agree" in text
    assert "still changing" in text


def test_without_read_events_it_uses_the_controllers_own_events() -> None:
    steps = [
        {"event": "terminate_check", "output": {"winner": "7"}, "decision": "ema high"},
        {"event": "terminate_check", "output": {"winner": "7"}, "decision": "ema high"},
    ]
    text = digest_episode(_record(1, True, 3000.0, steps))
    assert "terminate_check×2" in text
    assert "3 branches, 1,000 tokens each" in text
    assert "still changing" not in text


def test_the_digest_shows_wrong_and_costly_questions_within_its_size_limit() -> None:
    records = [_record(q, q % 3 != 0, 1000.0 * (q + 1), []) for q in range(30)]
    text = trace_digest([("M/aime24", records)], title="x", max_chars=3000)
    assert len(text) <= 3000
    assert "## M/aime24" in text
    assert "q27" in text  # the costliest wrong one
    assert "Most expensive correct ones" in text
    tiny = trace_digest([("M/aime24", records)] * 20, max_chars=800)
    assert len(tiny) <= 800 and "cut to the digest size limit" in tiny
