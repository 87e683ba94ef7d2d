"""``session.probe_confidence(branch)``: every session kind returns the same values, ``None``
where the data has none, and only ever for a probe the controller has paid for."""

from __future__ import annotations

import math
import random
from typing import Any

import numpy as np
import pytest

from autotts.data.loading import parse_replay
from autotts.data.records import ReplayQuestion
from autotts.env.episode import Episode
from autotts.env.fast_session import FastSession
from autotts.env.limits import StepLimitedSession
from autotts.env.session import Session
from autotts.env.tracing import TracingSession
from autotts.errors import InvalidAction, NoMoreBranches
from autotts.sandbox.payload import decode_question, encode_question
from autotts.sandbox.plain import PlainQuestion
from tests.controllers.random_replay import random_document

DOC: list[dict[str, Any]] = [
    {
        "question": "q0",
        "gold_answer": "7",
        "probe_freq": 500,
        "each_branch": [[["ERR", "3", "7"], 1600, "7"], [["5"], 900, "5"], [[], 300, "7"]],
        "probe_logprobs": [[-2.0, -0.5, None], [-1.0], []],
    }
]


def with_logprobs(seed: int, **kwargs: Any) -> list[dict[str, Any]]:
    """A random document whose probes carry log-probabilities (some missing)."""
    doc = random_document(seed, **kwargs)
    rng = np.random.default_rng(seed + 100)
    for item in doc:
        item["probe_logprobs"] = [
            [None if rng.random() < 0.1 else -float(rng.exponential()) for _ in probes]
            for probes, _, _ in item["each_branch"]
        ]
    return doc


def question(doc: list[dict[str, Any]] = DOC) -> ReplayQuestion:
    return parse_replay(doc, source="doc").questions[0]


def sessions(q: ReplayQuestion, order: list[int]) -> dict[str, Session]:
    return {
        "session": Session(Episode(q, order)),
        "limited": StepLimitedSession(Episode(q, order)),
        "tracing": TracingSession(Episode(q, order), []),
        "fast": FastSession(q, order),
        "fast-decoded": FastSession(decode_question(encode_question(q)), order),
        "fast-plain": FastSession(PlainQuestion(encode_question(q)), order),  # type: ignore[arg-type]
    }


@pytest.mark.parametrize(
    "kind", ["session", "limited", "tracing", "fast", "fast-decoded", "fast-plain"]
)
def test_confidence_of_the_latest_read(kind: str) -> None:
    session = sessions(question(), [0, 1, 2])[kind]
    answer, slot, finished = session.probe_new()
    assert (answer, slot, finished) == ("ERR", 0, False)
    assert session.probe_confidence(0) == math.exp(-2.0)
    assert session.probe_confidence(0) == math.exp(-2.0)  # asking again is free, same value
    assert session.probe_more(0) == ("3", False)
    assert session.probe_confidence(0) == math.exp(-0.5)
    assert session.probe_more(0) == ("7", False)
    assert session.probe_confidence(0) is None  # recorded without one
    assert session.probe_more(0) == ("7", True)
    assert session.probe_confidence(0) is None  # a final answer has none
    assert session.full_read() == "5"
    assert session.probe_confidence(1) is None  # a full read's answer is final
    assert session.probe_new() == ("7", 2, True)  # no probes: the first read is final
    assert session.probe_confidence(2) is None
    assert session.tokens_used == 1600 + 900 + 300


@pytest.mark.parametrize("kind", ["session", "tracing", "fast", "fast-plain"])
def test_an_unopened_branch_is_an_invalid_action(kind: str) -> None:
    session = sessions(question(), [1, 0])[kind]
    for bad in (0, -1, True, "0", 1.0):
        with pytest.raises(InvalidAction):
            session.probe_confidence(bad)  # type: ignore[arg-type]
    session.probe_new()
    assert session.probe_confidence(0) == math.exp(-1.0)  # branch 1 of the file
    with pytest.raises(InvalidAction, match="branch 1 is not open"):
        session.probe_confidence(1)
    # asking is no read: nothing charged, no step counted
    assert session.tokens_used == 500
    if hasattr(session, "steps"):
        steps = session.steps
        assert (steps() if callable(steps) else steps) == 1


@pytest.mark.parametrize("kind", ["session", "limited", "tracing", "fast", "fast-plain"])
def test_data_without_confidences_gives_none(kind: str) -> None:
    doc = random_document(3, questions=1, branches=6)
    session = sessions(question(doc), list(range(6)))[kind]
    _, slot, finished = session.probe_new()
    assert session.probe_confidence(slot) is None
    while not finished:
        _, finished = session.probe_more(slot)
        assert session.probe_confidence(slot) is None


def test_a_backend_without_confidences_gives_none_and_checks_the_branch() -> None:
    class Live:  # the shape of a live model's episode: no confidence()
        opened, pool_size, probe_freq, cost = 0, 2, 500, 0.0

        def open_branch(self) -> int:
            self.opened += 1
            return self.opened - 1

        def explore(self, slot: int) -> tuple[str, bool]:
            return "1", False

    session = Session(Live())  # type: ignore[arg-type]
    with pytest.raises(InvalidAction):
        session.probe_confidence(0)
    session.probe_new()
    assert session.probe_confidence(0) is None


def test_a_probe_generated_but_not_revealed_shows_no_confidence() -> None:
    # The MDP can continue a branch without revealing its answer: its confidence stays
    # hidden with it (a confidence is paid for with its answer).
    episode = Episode(question(), [0, 1, 2])
    episode.open_branch()
    episode.advance(0)
    assert episode.confidence(0) is None
    assert episode.reveal(0) == "ERR"
    assert episode.confidence(0) == math.exp(-2.0)
    episode.advance(0)  # depth 2 generated, not revealed: the old value is not shown either
    assert episode.confidence(0) is None


def test_no_session_shows_a_probe_before_it_is_read() -> None:
    # After k reads of a branch, the only confidence a session gives is probe k's: a
    # controller walking every branch sees exactly the confidences of the probes it read.
    doc = with_logprobs(7, questions=1, branches=8)
    q = question(doc)
    truth = q.confidence_lists
    assert truth is not None
    order = list(range(8))
    for kind, session in sessions(q, order).items():
        for b in order:
            _, slot, finished = session.probe_new()
            seen = [session.probe_confidence(slot)]
            while not finished:
                _, finished = session.probe_more(slot)
                seen.append(session.probe_confidence(slot))
            n = len(truth[b])
            assert seen == [*truth[b], None] if n else seen == [None], kind


@pytest.mark.parametrize("seed", range(4))
def test_every_session_kind_agrees_on_random_play(seed: int) -> None:
    doc = with_logprobs(seed, questions=3, branches=10)
    replay = parse_replay(doc, source="r")
    for q in replay.questions:
        order = list(np.random.default_rng(seed).permutation(q.n_branches))
        got: dict[str, list[Any]] = {}
        for kind, session in sessions(q, [int(b) for b in order]).items():
            rng = random.Random(seed)
            seen: list[Any] = []
            for _ in range(60):
                move = rng.random()
                try:
                    if move < 0.2:
                        seen.append(session.probe_new())
                    elif move < 0.25:
                        seen.append(session.full_read())
                    elif session.branches_opened:
                        seen.append(session.probe_more(rng.randrange(session.branches_opened)))
                except NoMoreBranches:
                    seen.append("none")
                if session.branches_opened:
                    seen.append(session.probe_confidence(rng.randrange(session.branches_opened)))
            seen.append(session.tokens_used)
            got[kind] = seen
        first = got["session"]
        assert all(v == first for v in got.values()), {k: v[:8] for k, v in got.items()}


def test_traces_record_confidence_only_where_there_is_one() -> None:
    steps: list[dict[str, Any]] = []
    session = TracingSession(Episode(question(), [0, 1, 2]), steps)
    session.probe_new()
    session.probe_more(0)
    session.probe_more(0)
    session.full_read()
    outputs = [step["output"] for step in steps]
    assert outputs == [
        {"answer": "ERR", "finished": False, "confidence": math.exp(-2.0)},
        {"answer": "3", "finished": False, "confidence": math.exp(-0.5)},
        {"answer": "7", "finished": False},
        {"answer": "5", "finished": True},
    ]
    plain: list[dict[str, Any]] = []
    session = TracingSession(Episode(question(random_document(1, questions=1)), [0, 1]), plain)
    session.probe_new()
    assert set(plain[0]["output"]) == {"answer", "finished"}  # as traces always were
