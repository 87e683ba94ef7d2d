"""Session: the read primitives exactly as replay-protocol.md §2 defines them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from autotts.data.loading import load_replay
from autotts.env.episode import Episode
from autotts.env.ordering import reference_order
from autotts.env.session import Session
from autotts.errors import InvalidAction, NoMoreBranches
from tests.helpers import make_question, random_branches

ROOT = Path(__file__).resolve().parents[2]
REPLAY_FILE = ROOT.parent / "shared" / "data" / "replay" / "Qwen3-4B" / "aime24.json"


def _session(branches: list[tuple[list[str], int, str]], order: list[int] | None = None) -> Session:
    question = make_question(branches)
    return Session(Episode(question, order if order is not None else list(range(len(branches)))))


P7 = [f"p{k}" for k in range(7)]

#: (name, branch, expected explores as (answer, finished, charge), ending with one free re-read)
READS = [
    (
        "spec example: 3,403 tokens, 7 probes, charged 3,500",
        (P7, 3403, "204"),
        [(p, False, 500) for p in P7] + [("204", True, 0), ("204", True, 0)],
    ),
    (
        "longer than its probes: the remainder at the end",
        (["a", "ERR"], 1400, "b"),
        [("a", False, 500), ("ERR", False, 500), ("b", True, 400), ("b", True, 0)],
    ),
    (
        "exactly Δ·n_probes long",
        (["a", "b"], 1000, "b"),
        [("a", False, 500), ("b", False, 500), ("b", True, 0), ("b", True, 0)],
    ),
    (
        "empty probe list: finishes on its first read",
        ([], 777, "x"),
        [("x", True, 777), ("x", True, 0), ("x", True, 0)],
    ),
    ("empty and zero tokens", ([], 0, "x"), [("x", True, 0), ("x", True, 0)]),
    (
        "overcharged: 100 tokens, 3 probes",
        (["a", "b", "c"], 100, "d"),
        [("a", False, 500), ("b", False, 500), ("c", False, 500), ("d", True, 0)],
    ),
]


@pytest.mark.parametrize(("branch", "reads"), [r[1:] for r in READS], ids=[r[0] for r in READS])
def test_probe_new_then_probe_more_walks_the_branch(
    branch: tuple[list[str], int, str], reads: list[tuple[str, bool, int]]
) -> None:
    session = _session([branch])
    first_answer, first_finished, first_charge = reads[0]
    assert tuple(session.probe_new()) == (first_answer, 0, first_finished)
    assert session.tokens_used == first_charge
    for answer, finished, charge in reads[1:]:
        before = session.tokens_used
        assert session.probe_more(0) == (answer, finished)
        assert session.tokens_used - before == charge
    assert session.tokens_used == max(branch[1], 500 * len(branch[0]))


@pytest.mark.parametrize("branch", [r[1] for r in READS], ids=[r[0] for r in READS])
def test_full_read_charges_branch_tokens_exactly(branch: tuple[list[str], int, str]) -> None:
    session = _session([branch, branch])
    assert session.full_read() == branch[2]
    assert session.tokens_used == branch[1]
    assert session.get_new_branch_final_answer() == branch[2]
    assert session.tokens_used == 2 * branch[1]
    assert session.branches_opened == 2


def test_probe_new_returns_indices_in_opening_order_over_the_shuffled_pool() -> None:
    branches = [(["a0"], 900, "f0"), (["a1"], 900, "f1"), ([], 100, "f2"), (["a3"], 900, "f3")]
    session = _session(branches, order=[2, 0, 3, 1])
    assert session.probe_new() == ("f2", 0, True)
    assert session.probe_new() == ("a0", 1, False)
    assert session.full_read() == "f3"  # opens index 2 (not returned)
    assert session.probe_new() == ("a1", 3, False)
    assert session.branches_opened == 4
    assert session.probe_more(1) == ("f0", True)
    assert session.tokens_used == 100 + 500 + 900 + 500 + 400


def test_the_reference_order_decides_which_branch_comes_first() -> None:
    branches = [([f"p{i}"], 600, f"f{i}") for i in range(10)]
    for seed in range(5):
        order = reference_order(10, seed)
        session = Session(Episode(make_question(branches), order))
        assert [session.probe_new().answer for _ in range(10)] == [f"p{i}" for i in order]


@pytest.mark.parametrize("read", ["probe_new", "full_read", "get_new_branch_final_answer"])
def test_opening_past_the_pool_raises_no_more_branches(read: str) -> None:
    session = _session([(["a"], 600, "b"), ([], 200, "c")])
    session.probe_new()
    session.full_read()
    assert not session.can_branch
    tokens = session.tokens_used
    for error in (NoMoreBranches, IndexError, ValueError, InvalidAction):
        with pytest.raises(error, match="all 2 branches are open"):
            getattr(session, read)()
    assert (session.tokens_used, session.branches_opened) == (tokens, 2)


def test_no_more_branches_is_an_index_error_and_a_value_error() -> None:
    assert issubclass(NoMoreBranches, IndexError)
    assert issubclass(NoMoreBranches, ValueError)


@pytest.mark.parametrize("opened", [0, 2])
@pytest.mark.parametrize("branch", [0, 1, 2, 3, 99, -1, -2, -3])
def test_probe_more_of_an_unopened_or_negative_branch_is_invalid(opened: int, branch: int) -> None:
    session = _session([(["a"], 600, "b"), ([], 200, "c"), (["d"], 600, "e")])
    for _ in range(opened):
        session.probe_new()
    if 0 <= branch < opened:
        return  # open: a legal read
    tokens = session.tokens_used
    with pytest.raises(InvalidAction, match=rf"branch {branch} is not open"):
        session.probe_more(branch)
    assert session.tokens_used == tokens


@pytest.mark.parametrize("branch", ["0", 0.0, None, True])
def test_probe_more_with_a_non_int_index_is_invalid(branch: Any) -> None:
    session = _session([(["a"], 600, "b")])
    session.probe_new()
    with pytest.raises(InvalidAction, match="branch index must be an int"):
        session.probe_more(branch)


def test_can_branch_and_probe_freq() -> None:
    session = _session([([], 10, "a")])
    assert (session.can_branch, session.probe_freq, session.branches_opened) == (True, 500, 0)
    session.probe_new()
    assert (session.can_branch, session.branches_opened) == (False, 1)


@pytest.mark.parametrize("seed", range(10))
def test_cost_is_the_sum_and_sequential_cost_the_max_of_per_branch_charges(seed: int) -> None:
    rng = np.random.default_rng(seed)
    branches = random_branches(rng, 16)
    question = make_question(branches)
    order = reference_order(16, seed)
    episode = Episode(question, order)
    session = Session(episode)
    reads = [0] * 16
    for _ in range(80):
        choice = rng.random()
        if session.can_branch and choice < 0.2:
            reads[session.probe_new().branch] += 1
        elif session.can_branch and choice < 0.3:
            reads[session.branches_opened] = -1  # -1: read in full
            session.full_read()
        elif session.branches_opened:
            slot = int(rng.integers(session.branches_opened))
            if reads[slot] >= 0:
                session.probe_more(slot)
                reads[slot] += 1
    charges = []
    for slot, b in enumerate(order[: session.branches_opened]):
        probes, tokens, _ = branches[b]
        if reads[slot] < 0:
            charges.append(tokens)
            continue
        walked = 500 * min(reads[slot], len(probes))
        charges.append(walked + (max(0, tokens - walked) if reads[slot] > len(probes) else 0))
    assert episode.charged == charges
    assert session.tokens_used == sum(charges)
    assert episode.sequential_cost == max(charges, default=0)


# -- traces ----------------------------------------------------------------------------


def test_without_a_trace_list_tracing_is_off_and_trace_records_nothing() -> None:
    episode = Episode(make_question([([], 10, "a")]), [0])
    session = Session(episode)
    assert session.tracing is False
    assert session.trace("read", goal="g", input=1, output=2, state=3, decision="d") is None
    assert Session(episode, None).tracing is False


def test_with_a_trace_list_every_step_is_a_dict_of_the_six_fields() -> None:
    steps: list[dict[str, Any]] = []
    session = Session(Episode(make_question([([], 10, "a")]), [0]), steps)
    assert session.tracing is True  # an empty list is still tracing
    session.trace("read", goal="find", input={"b": 0}, output="a", state=[1], decision="stop")
    session.trace("vote")
    # "read" is the session's own event (env/tracing.py): the controller's is renamed
    assert steps == [
        {
            "event": "controller read",
            "goal": "find",
            "input": {"b": 0},
            "output": "a",
            "state": [1],
            "decision": "stop",
        },
        {"event": "vote", "goal": "", "input": None, "output": None, "state": None, "decision": ""},
    ]


# -- the real data ------------------------------------------------------------------------


def test_the_spec_example_branch_of_the_shipped_data_costs_3500() -> None:
    if not REPLAY_FILE.is_file():
        pytest.skip(f"shared replay data not found at {REPLAY_FILE}")
    question = load_replay(REPLAY_FILE).questions[0]
    matches = [
        b
        for b in range(question.n_branches)
        if question.tokens[b] == 3403 and question.n_probes[b] == 7
    ]
    assert matches, "question 0 of Qwen3-4B/aime24 should hold the spec's 3,403-token branch"
    session = Session(Episode(question, [matches[0]]))
    answer, _, finished = session.probe_new()
    while not finished:
        answer, finished = session.probe_more(0)
    assert session.tokens_used == 3500
    assert answer == question.answers[int(question.final[matches[0]])]
    assert session.probe_more(0) == (answer, True)
    assert session.tokens_used == 3500
