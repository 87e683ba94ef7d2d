"""The parent's whole-log check (replay_log_fast) against the call-by-call replay.

Random logs, legal and not (bad codes, reads of unopened slots, bools, floats,
strings, too many openings, huge ints), and random answers: both give the same
verdict — the same rejection reason and message — and, when accepted, the same
tokens and longest branch.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from autotts.env.log_accounts import account_logs
from autotts.errors import CandidateRejected
from autotts.evaluation.jobs import DataRef, load_data
from autotts.evaluation.protocols import ReferenceProtocol
from autotts.evaluation.sandboxed import run_in_sandbox
from autotts.sandbox import SandboxLimits, read_candidate
from autotts.sandbox.interpreter import pypy_path
from autotts.sandbox.payload import decode_log, encode_log, encode_orders
from autotts.sandbox.plain import decode_order
from autotts.sandbox.replay import FULL_READ, PROBE_NEW, check_logs, replay_log, replay_log_fast
from tests.controllers.random_replay import random_replay

REPLAY = random_replay(5, questions=3, branches=[4, 7, 2])
CANDIDATES = Path(__file__).resolve().parents[2] / "examples" / "candidates"

actions = st.one_of(
    st.sampled_from([PROBE_NEW, PROBE_NEW, FULL_READ, 0, 0, 1, 1, 2, 3]),
    st.integers(-4, 9),
    st.sampled_from([True, 1.0, "1", None, 2**70]),
)
answers = st.one_of(st.none(), st.sampled_from(["0", "1", "2", "3", "ERR", "zz"]), st.just(7))


def _verdict(fn: Any, *args: Any, **kwargs: Any) -> tuple[Any, ...]:
    try:
        accounts = fn(*args, **kwargs)
    except CandidateRejected as exc:
        return ("rejected", exc.reason, exc.detail)
    return ("ok", float(accounts.cost), float(accounts.sequential_cost), accounts.opened)


@settings(max_examples=400, deadline=None)
@given(
    question=st.integers(0, 2),
    seed=st.integers(0, 999),
    log=st.lists(actions, max_size=30),
    answer=answers,
)
def test_whole_log_check_gives_the_same_verdict_and_accounts(
    question: int, seed: int, log: list[Any], answer: Any
) -> None:
    q = REPLAY.questions[question]
    order = [int(b) for b in np.random.default_rng(seed).permutation(q.n_branches)]
    args = (q, order, list(log), answer)
    slow = _verdict(replay_log, *args, where="episode 1", max_answer_chars=3)
    fast = _verdict(replay_log_fast, *args, where="episode 1", max_answer_chars=3)
    assert fast == slow


int_actions = st.one_of(
    st.sampled_from([PROBE_NEW, PROBE_NEW, FULL_READ, 0, 0, 1, 1, 2, 3]), st.integers(-4, 9)
)
episodes_ = st.lists(
    st.tuples(st.integers(0, 2), st.integers(0, 999), st.lists(int_actions, max_size=25), answers),
    max_size=8,
)


@settings(max_examples=300, deadline=None)
@given(episodes=episodes_, flat=st.booleans())
def test_a_cell_checked_at_once_gets_each_episodes_verdict_in_order(
    episodes: list[tuple[int, int, list[int], Any]], flat: bool
) -> None:
    """check_logs over many episodes: the first episode (in order) that replay_log rejects
    is rejected with the same message; otherwise every episode has replay_log's accounts.
    Also when the orders come laid end to end (``flat_orders``, as the sandbox has them)."""
    orders = [
        [int(b) for b in np.random.default_rng(seed).permutation(REPLAY.questions[q].n_branches)]
        for q, seed, _, _ in episodes
    ]
    expected: list[tuple[Any, ...]] = []
    for e, ((q, _, log, answer), order) in enumerate(zip(episodes, orders)):
        verdict = _verdict(replay_log, REPLAY.questions[q], order, log, answer, where=f"ep {e}")
        expected.append(verdict)
        if verdict[0] == "rejected":
            expected = [verdict]
            break
    codes = np.asarray([a for _, _, log, _ in episodes for a in log], dtype=np.int64)
    lengths = np.asarray([len(log) for _, _, log, _ in episodes], dtype=np.int64)
    try:
        accounts = check_logs(
            REPLAY.questions,
            [(q, order) for (q, _, _, _), order in zip(episodes, orders)],
            codes,
            lengths,
            [answer for _, _, _, answer in episodes],
            where=lambda e: f"ep {e}",
            flat_orders=np.concatenate([np.asarray(o, dtype=np.int64) for o in orders])
            if flat and orders
            else None,
        )
    except CandidateRejected as exc:
        assert [("rejected", exc.reason, exc.detail)] == expected
    else:
        got = [("ok", float(a.cost), float(a.sequential_cost), a.opened) for a in accounts]
        assert got == expected


def test_the_array_check_spots_each_kind_of_illegal_entry() -> None:
    q = REPLAY.questions[2]  # two branches
    order = np.arange(q.n_branches)

    def legal(log: list[int]) -> bool:
        codes, lengths = np.asarray(log, dtype=np.int64), np.asarray([len(log)])
        return bool(account_logs([q], [(0, order)], codes, lengths, [None]).legal[0])

    assert legal([]) and legal([PROBE_NEW, 0, FULL_READ, 1, 0])
    for bad in (
        [0],  # a read before any opening
        [PROBE_NEW, 1],  # a read of a slot not opened yet
        [PROBE_NEW, PROBE_NEW, PROBE_NEW],  # more openings than the pool
        [PROBE_NEW, -3],  # no such code
        [PROBE_NEW, 2**40],
    ):
        assert not legal(bad), bad


@settings(max_examples=200, deadline=None)
@given(log=st.lists(st.integers(-2, 80), max_size=40))
def test_logs_travel_as_strings_unchanged(log: list[int]) -> None:
    encoded = encode_log(log)
    assert decode_log(json.loads(json.dumps(encoded))).tolist() == log


def test_a_string_that_encodes_no_log_is_refused() -> None:
    with pytest.raises(ValueError):
        decode_log(json.loads('"\\ud800"'))  # a lone surrogate, as JSON can carry one


def test_the_sandbox_gives_the_same_episodes_on_both_paths(small_ref: DataRef) -> None:
    """Worker session and evaluator check, lean or general: identical episodes and logs."""
    replay = load_data(small_ref)
    candidate = read_candidate(f"{CANDIDATES / '04_confidence_momentum.py'}:ConfidenceMomentumPort")
    runs = [
        run_in_sandbox(candidate, replay, ReferenceProtocol(3), beta=0.6, fast=fast, keep_logs=True)
        for fast in (True, False)
    ]
    for field in ("correct", "cost", "sequential_cost"):
        assert np.array_equal(getattr(runs[0].table, field), getattr(runs[1].table, field))
    assert [(o.answer, o.log) for o in runs[0].outcomes] == [
        (o.answer, o.log) for o in runs[1].outcomes
    ]
    assert all(o.log for o in runs[0].outcomes)
    lean = run_in_sandbox(candidate, replay, ReferenceProtocol(3), beta=0.6)
    assert np.array_equal(lean.table.cost, runs[0].table.cost)
    assert all(o.log == [] for o in lean.outcomes)  # not kept unless asked for


@settings(max_examples=100, deadline=None)
@given(
    width=st.integers(1, 120),
    seeds=st.lists(st.integers(0, 999), min_size=1, max_size=5),
)
def test_orders_travel_as_strings_unchanged(width: int, seeds: list[int]) -> None:
    orders = np.asarray([np.random.default_rng(s).permutation(width) for s in seeds])
    sent = json.loads(json.dumps(encode_orders(orders)))
    assert [decode_order(text) for text in sent] == orders.tolist()


FAILS_LATE = '''
from autotts import Controller


class FailsLate(Controller):
    """Tampers with its third episode's log, crashes in its sixth."""

    calls = 0

    def __init__(self, beta=0.5):
        self.beta = beta

    def solve(self, session):
        type(self).calls += 1
        answer, _, _ = session.probe_new()
        if type(self).calls == 3:
            session.log.append(40)  # a read of a slot it never opened
        if type(self).calls == 6:
            raise RuntimeError("late crash")
        return answer
'''


@pytest.mark.parametrize(
    ("fast", "interpreter"), [(True, "cpython"), (False, "cpython"), (True, "pypy")]
)
def test_results_before_a_failure_are_judged_before_it(
    fast: bool, interpreter: str, tmp_path: Path, small_ref: DataRef
) -> None:
    """A compact run's results travel in batches: those the worker finished before it
    failed still reach the evaluator first, so the earlier episode's verdict counts, as
    it does on the one-result-per-line path (``fast=False``)."""
    if interpreter == "pypy" and pypy_path() is None:
        pytest.skip("pypy3 is not installed")
    replay = load_data(small_ref)
    assert len(replay) >= 3
    path = tmp_path / "fails_late.py"
    path.write_text(FAILS_LATE)
    with pytest.raises(CandidateRejected) as caught:
        run_in_sandbox(
            read_candidate(str(path)),
            replay,
            ReferenceProtocol(3),
            beta=0.5,
            fast=fast,
            limits=SandboxLimits(interpreter=interpreter),
        )
    assert caught.value.reason == "cheating"
    assert "question 2 (replicate 0)" in caught.value.detail
