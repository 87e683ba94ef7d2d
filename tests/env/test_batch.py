"""EpisodeBatch: array answers and costs equal what an Episode/Session read returns."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from autotts.data.records import ReplaySet
from autotts.env.batch import EpisodeBatch
from autotts.env.episode import Episode
from autotts.env.ordering import reference_orders
from autotts.env.session import Session
from tests.helpers import make_replay, random_branches

N_BRANCHES = 12


def _replay(seed: int, questions: int = 4) -> ReplaySet:
    rng = np.random.default_rng(seed)
    return make_replay([random_branches(rng, N_BRANCHES, alphabet=4) for _ in range(questions)])


def _batch(replay: ReplaySet, seeds: range, pool: int | None = None) -> EpisodeBatch:
    """Every (seed, question) episode; the pool is a prefix of the reference order."""
    n = len(replay)
    orders = reference_orders(N_BRANCHES, seeds)[:, : pool or N_BRANCHES]
    question = np.tile(np.arange(n), len(seeds))
    return EpisodeBatch.build(replay, question, np.repeat(orders, n, axis=0))


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("pool", [None, 5])
def test_answer_and_cost_after_agree_with_a_session(seed: int, pool: int | None) -> None:
    replay = _replay(seed)
    batch = _batch(replay, range(3), pool)
    rng = np.random.default_rng(1000 + seed)
    for e in range(batch.size):
        question = replay.questions[int(batch.question[e])]
        offset = sum(q.n_branches for q in replay.questions[: int(batch.question[e])])
        order = (batch.branches[e] - offset).tolist()
        episode = Episode(question, order)
        session = Session(episode)
        reads = rng.integers(1, 14, size=batch.pool_size)
        for slot, k in enumerate(reads.tolist()):
            got = [session.probe_new()[0]] + [session.probe_more(slot)[0] for _ in range(k - 1)]
            branch = np.full(k, batch.branches[e, slot])
            ids = batch.answer_after(branch, np.arange(1, k + 1))
            assert [question.answers[i] for i in ids.tolist()] == got, (e, slot)
        charged = batch.cost_after(
            batch.branches[e], reads, np.full(batch.pool_size, batch.probe_freq[e])
        )
        assert charged.tolist() == episode.charged
        assert charged.sum() == session.tokens_used


def test_cost_after_zero_reads_is_zero() -> None:
    batch = _batch(_replay(0), range(2))
    zeros = np.zeros(batch.pool_size, dtype=np.int64)
    assert batch.cost_after(batch.branches[0], zeros, batch.probe_freq[:1]).tolist() == [0] * 12


def test_batch_layout() -> None:
    replay = _replay(3)
    batch = _batch(replay, range(5), pool=7)
    assert (batch.size, batch.pool_size) == (20, 7)
    assert batch.question.tolist() == [0, 1, 2, 3] * 5
    for e in range(batch.size):
        q = replay.questions[int(batch.question[e])]
        assert batch.vocab[e] == len(q.answers)
        assert batch.final_vocab[e] == q.n_finals
        assert batch.probe_freq[e] == q.probe_freq
        ids = batch.answer_after(batch.branches[e], np.full(7, 20))  # past every probe: finals
        assert (ids < batch.final_vocab[e]).all()
        # every branch id of the episode belongs to its question
        offset = 12 * int(batch.question[e])
        assert ((batch.branches[e] >= offset) & (batch.branches[e] < offset + 12)).all()


BRANCH = st.tuples(
    st.lists(st.sampled_from(["a", "b", "ERR"]), max_size=10),
    st.integers(min_value=0, max_value=7000),
    st.sampled_from(["a", "b", "c"]),
)


@settings(max_examples=150, deadline=None)
@given(
    branches=st.lists(BRANCH, min_size=1, max_size=6),
    probe_freq=st.sampled_from([1, 7, 500]),
    reads=st.lists(st.integers(min_value=1, max_value=14), min_size=6, max_size=6),
)
def test_cost_after_matches_the_session_for_any_branch(
    branches: list[tuple[list[str], int, str]], probe_freq: int, reads: list[int]
) -> None:
    replay = make_replay([branches], probe_freq=probe_freq)
    n = len(branches)
    order = np.arange(n)[None, :]
    batch = EpisodeBatch.build(replay, np.zeros(1, dtype=np.int64), order)
    episode = Episode(replay.questions[0], list(range(n)))
    session = Session(episode)
    answers = []
    for slot in range(n):
        answers.append(session.probe_new()[0])
        for _ in range(reads[slot] - 1):
            answers[-1] = session.probe_more(slot)[0]
    k = np.asarray(reads[:n])
    cost = batch.cost_after(batch.branches[0], k, np.full(n, probe_freq))
    assert cost.tolist() == episode.charged
    last = batch.answer_after(batch.branches[0], k)
    assert [replay.questions[0].answers[i] for i in last.tolist()] == answers
