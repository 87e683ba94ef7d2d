"""Episode: branch slots, the charging rule of replay-protocol.md §2, and the reference shuffle."""

from __future__ import annotations

import random

import numpy as np
import pytest

from autotts.env.episode import Episode
from autotts.env.ordering import reference_order, reference_orders
from autotts.errors import BudgetExceeded, InvalidAction, NoMoreBranches
from tests.helpers import make_question, random_branches

Δ = 500


def _expected_charge(n_probes: int, tokens: int, reads: int) -> int:
    """§2 for ``reads`` explores of one branch: Δ per probe, then the remainder once."""
    walked = Δ * min(reads, n_probes)
    return walked + (max(0, tokens - walked) if reads > n_probes else 0)


# -- the reference shuffle ---------------------------------------------------------


@pytest.mark.parametrize("n", [0, 1, 2, 7, 128])
@pytest.mark.parametrize("seed", [0, 1, 42, 99, 2**31 + 5])
def test_reference_order_is_random_shuffle_of_the_branch_list(n: int, seed: int) -> None:
    branches = [object() for _ in range(n)]
    shuffled = list(branches)
    random.Random(seed).shuffle(shuffled)
    order = reference_order(n, seed)
    assert [branches[i] for i in order] == shuffled
    assert sorted(order) == list(range(n))


def test_reference_orders_stacks_one_row_per_seed() -> None:
    rows = reference_orders(10, range(3, 6))
    assert rows.shape == (3, 10)
    assert rows.dtype == np.int64
    assert [tuple(r) for r in rows.tolist()] == [reference_order(10, s) for s in (3, 4, 5)]


@pytest.mark.parametrize("seeds", [range(3, 6), range(0, 9, 3), [5, 2, 7]])
def test_reference_orders_are_shared_read_only(seeds: range | list[int]) -> None:
    """Cached arrays are handed to every evaluation: none may change what the next gets."""
    rows = reference_orders(10, seeds)
    assert [tuple(r) for r in rows.tolist()] == [reference_order(10, s) for s in seeds]
    with pytest.raises(ValueError, match="read-only"):
        rows[0, 0] = 1
    assert reference_orders(10, seeds).tolist() == rows.tolist()


def test_seeds_give_different_orders() -> None:
    assert len({reference_order(128, s) for s in range(100)}) == 100


# -- construction ------------------------------------------------------------------

QUESTION = make_question(
    [(["a", "b"], 1400, "c"), ([], 300, "d"), (["e"] * 7, 3403, "f"), (["g"], 100, "h")]
)


@pytest.mark.parametrize(
    ("order", "kappa", "message"),
    [
        ([0, 0], 0.0, "distinct"),
        ([0, 4], 0.0, r"\[0, 4\)"),
        ([-1], 0.0, "distinct"),
        ([0, 1], -0.5, "kappa_probe"),
    ],
)
def test_bad_order_or_kappa_is_rejected(order: list[int], kappa: float, message: str) -> None:
    with pytest.raises(InvalidAction, match=message):
        Episode(QUESTION, order, kappa_probe=kappa)


def test_slots_follow_the_order_and_a_sub_pool_is_allowed() -> None:
    episode = Episode(QUESTION, [2, 0])
    assert episode.pool_size == 2
    assert [episode.open_branch(), episode.open_branch()] == [0, 1]
    assert episode.opened == 2
    assert [episode.n_probes(0), episode.n_probes(1)] == [7, 2]
    with pytest.raises(NoMoreBranches, match="all 2 branches"):
        episode.open_branch()
    assert episode.opened == 2
    assert episode.cost == 0  # opening is free


# -- charging ----------------------------------------------------------------------

#: (branch, reads, expected per-read charges)
WALKS = [
    ((["a", "b"], 1400, "c"), 4, [500, 500, 400, 0]),
    (([], 300, "d"), 2, [300, 0]),
    ((["e"] * 7, 3403, "f"), 9, [500] * 7 + [0, 0]),  # the spec's 3,403 → 3,500
    ((["g"], 100, "h"), 2, [500, 0]),
    ((["a", "b"], 1000, "c"), 3, [500, 500, 0]),
    (([], 0, "z"), 1, [0]),
]


@pytest.mark.parametrize(("branch", "reads", "charges"), WALKS)
def test_advance_charges_delta_per_probe_then_the_remainder(
    branch: tuple[list[str], int, str], reads: int, charges: list[int]
) -> None:
    episode = Episode(make_question([branch]), [0])
    slot = episode.open_branch()
    seen = []
    for _ in range(reads):
        before = episode.cost
        if episode.finished[slot]:
            assert episode.explore(slot) == (branch[2], True)
        else:
            episode.advance(slot)
        seen.append(episode.cost - before)
    assert seen == charges
    assert episode.finished[slot]
    assert episode.depth[slot] == len(branch[0])
    assert episode.charged == [sum(charges)]


@pytest.mark.parametrize("depth", [0, 1, 2, 5])
def test_to_end_from_depth_d_charges_tokens_minus_d_intervals(depth: int) -> None:
    tokens = 1700
    episode = Episode(make_question([(["a"] * 5, tokens, "z")]), [0])
    slot = episode.open_branch()
    for _ in range(depth):
        episode.advance(slot)
    assert episode.continue_cost(slot, to_end=True) == max(0, tokens - Δ * depth)
    episode.advance(slot, to_end=True)
    assert episode.finished[slot]
    assert episode.cost == Δ * depth + max(0, tokens - Δ * depth)


def test_advance_on_finished_or_pruned_branch_is_invalid() -> None:
    episode = Episode(QUESTION, [1, 0])
    episode.open_branch()
    episode.advance(0)
    with pytest.raises(InvalidAction, match="branch 0 is finished"):
        episode.advance(0)
    episode.open_branch()
    episode.prune(1)
    with pytest.raises(InvalidAction, match="branch 1 was pruned"):
        episode.advance(1)
    with pytest.raises(InvalidAction, match="branch 1 was pruned already"):
        episode.prune(1)
    assert episode.cost == 300


def test_reveal_needs_generated_tokens_and_an_unpruned_branch() -> None:
    episode = Episode(QUESTION, [0, 1])
    slot = episode.open_branch()
    with pytest.raises(InvalidAction, match="branch 0 has generated nothing yet"):
        episode.reveal(slot)
    with pytest.raises(InvalidAction, match="not revealed"):
        episode.revealed_answer(slot, 1)
    episode.advance(slot)
    assert episode.reveal(slot) == "a"
    assert episode.revealed == {(0, 1)}
    assert episode.revealed_answer(0, 1) == "a"
    episode.prune(slot)
    with pytest.raises(InvalidAction, match="branch 0 was pruned"):
        episode.reveal(slot)


def test_kappa_charges_each_new_answer_once() -> None:
    episode = Episode(QUESTION, [0], kappa_probe=0.5)
    slot = episode.open_branch()
    episode.advance(slot)
    assert episode.reveal_cost(slot) == 250
    episode.reveal(slot)
    assert episode.reveal_cost(slot) == 0
    episode.reveal(slot)  # the same answer again: free
    assert episode.cost == 500 + 250
    episode.advance(slot)
    episode.advance(slot)  # finishes: 1400 - 1000
    episode.reveal(slot)
    assert episode.revealed == {(0, 1), (0, -1)}
    assert episode.cost == 1400 + 2 * 250
    assert episode.charged == [episode.cost]


def test_budget_refuses_a_charge_and_changes_nothing() -> None:
    episode = Episode(QUESTION, [0], budget=900)
    slot = episode.open_branch()
    episode.advance(slot)
    with pytest.raises(BudgetExceeded, match="branch 0 would exceed the budget"):
        episode.advance(slot)
    assert (episode.cost, episode.depth, episode.charged) == (500, [1], [500])
    assert not episode.finished[slot]


@pytest.mark.parametrize("seed", range(8))
def test_cost_is_the_sum_and_sequential_cost_the_max_of_per_branch_charges(seed: int) -> None:
    rng = np.random.default_rng(seed)
    branches = random_branches(rng, 12)
    question = make_question(branches)
    order = reference_order(len(branches), seed)
    episode = Episode(question, order)
    reads = [0] * len(branches)
    for _ in range(60):
        if episode.opened < episode.pool_size and rng.random() < 0.3:
            slot = episode.open_branch()
        elif episode.opened:
            slot = int(rng.integers(episode.opened))
        else:
            continue
        episode.explore(slot)
        reads[slot] += 1
    expected = [
        _expected_charge(len(branches[b][0]), branches[b][1], reads[slot])
        for slot, b in enumerate(order[: episode.opened])
    ]
    assert episode.charged == expected
    assert episode.cost == sum(expected)
    assert episode.sequential_cost == max(expected, default=0)


def test_sequential_cost_of_an_empty_episode_is_zero() -> None:
    assert Episode(QUESTION, [0, 1]).sequential_cost == 0
