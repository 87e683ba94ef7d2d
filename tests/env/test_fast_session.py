"""FastSession against Session + Episode: identical results, accounts and errors.

Random sequences of session calls (hypothesis) go through both; every call must
return the same value or raise the same exception class with the same message,
and the accounts (tokens, per-slot charges, revealed answers) must agree after
every call.
"""

from __future__ import annotations

import enum
from typing import Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from autotts.env.episode import Episode
from autotts.env.fast_session import FastSession
from autotts.env.limits import StepLimitedSession
from autotts.env.session import Probe, Session
from tests.controllers.random_replay import random_replay

REPLAY = random_replay(11, questions=4, branches=[5, 1, 3, 8])


class Slot(enum.IntEnum):
    ONE = 1


#: branch arguments a controller might pass, legal and not
SLOTS: list[Any] = [0, 1, 2, 3, 4, 7, -1, -3, True, False, 1.0, "0", None, np.int64(0), Slot.ONE]

calls = st.lists(
    st.one_of(
        st.just(("probe_new",)),
        st.just(("full_read",)),
        st.just(("get_new_branch_final_answer",)),
        st.just(("tokens_used",)),
        st.tuples(st.just("probe_more"), st.sampled_from(SLOTS)),
        st.tuples(st.just("probe_more"), st.integers(0, 7)),
    ),
    max_size=60,
)


def _apply(session: Session, call: tuple[Any, ...]) -> tuple[str, Any]:
    try:
        if call[0] == "tokens_used":
            return "ok", session.tokens_used
        value = getattr(session, call[0])(*call[1:])
        return "ok", value
    except Exception as exc:
        return type(exc).__name__, str(exc)


@settings(max_examples=300, deadline=None)
@given(
    question=st.integers(0, 3),
    seed=st.integers(0, 2**16),
    max_steps=st.integers(1, 40),
    script=calls,
)
def test_every_call_matches_the_episode_session(
    question: int, seed: int, max_steps: int, script: list[tuple[Any, ...]]
) -> None:
    q = REPLAY.questions[question]
    order = [int(b) for b in np.random.default_rng(seed).permutation(q.n_branches)]
    episode = Episode(q, order)
    slow = StepLimitedSession(episode, max_steps=max_steps)
    fast = FastSession(q, order, max_steps=max_steps)
    assert isinstance(fast, Session)
    for call in script:
        want, got = _apply(slow, call), _apply(fast, call)
        assert got == want, call
        assert type(got[1]) is type(want[1]), call  # a Probe stays a Probe, 0 stays an int
        if isinstance(want[1], Probe):
            assert got[1].answer == want[1].answer and got[1].branch == want[1].branch
        assert fast.steps == slow.steps
        assert fast.branches_opened == slow.branches_opened
        assert fast.can_branch == slow.can_branch
        assert fast.probe_freq == slow.probe_freq
    assert fast.cost == episode.cost
    assert fast.charges() == episode.charged
    assert fast.sequential_cost == episode.sequential_cost


@settings(max_examples=100, deadline=None)
@given(seed=st.integers(0, 2**16), script=calls, checks=st.lists(st.booleans(), max_size=60))
def test_accounts_agree_however_often_they_are_read(
    seed: int, script: list[tuple[Any, ...]], checks: list[bool]
) -> None:
    """The accounts are brought up to date lazily: reading them at any moments (or only at
    the end) gives the same totals."""
    q = REPLAY.questions[3]
    order = [int(b) for b in np.random.default_rng(seed).permutation(q.n_branches)]
    eager, lazy = FastSession(q, order), FastSession(q, order)
    episode = Episode(q, order)
    slow = Session(episode)
    for i, call in enumerate(script):
        _apply(eager, call), _apply(lazy, call), _apply(slow, call)
        if i < len(checks) and checks[i]:
            assert eager.cost == episode.cost
            assert eager.charges() == episode.charged
    assert lazy.cost == eager.cost == episode.cost
    assert lazy.charges() == eager.charges() == episode.charged
    assert lazy.log == eager.log


def test_the_step_limit_keeps_raising_and_counts_refused_calls() -> None:
    q = REPLAY.questions[0]
    session = FastSession(q, list(range(q.n_branches)), max_steps=3)
    session.probe_new()
    for _ in range(2):
        _apply(session, ("probe_more", 9))  # refused: not open, but counted
    for _ in range(3):
        assert _apply(session, ("probe_more", 0))[0] == "StepLimitExceeded"
    assert session.steps == 6
    assert session.log == [-1]
