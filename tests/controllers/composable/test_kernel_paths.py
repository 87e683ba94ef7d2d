"""The composable kernel keeps up to date only what a knob set reads (``Needs``); on
every such path it returns exactly what the episode-at-a-time ``solve()`` returns.

The random compositions of ``test_composable`` draw from the search's parts only; these
knob sets reach the paths the built-ins' settings take and the corners around them
(several votes per row in one round, windows of branches not yet finished, votes on full
reads ranked by length, leaders while the cohort widens)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from autotts.controllers.composable import Knobs, KnobsController
from autotts.controllers.composable.builtins import cmc_parts
from autotts.controllers.composable.kernel_state import Needs
from autotts.evaluation.protocols import ReferenceProtocol, SubsampleProtocol
from autotts.evaluation.runner import run_episodes

from ..random_replay import random_replay

FULL = Knobs(depth="full", prune="never", warm_up=0, max_branches=20)

# (knob set, the path it is meant for: the Needs fields that must hold)
CASES: dict[str, tuple[Knobs, dict[str, bool]]] = {
    # the confidence kept vote by vote, several votes per row in a round (opening, widening)
    "tallied-full": (
        replace(FULL, widen="always", widen_burst=3, stop="confidence", conf_thresh=0.8,
                n_init=2),
        {"tallied": True, "eager": False, "keyed": True},
    ),
    # ... and from the depth pass, with bursts finishing several branches of a row at once
    "tallied-burst": (
        Knobs(depth="burst", prune="latest", stop="confidence", conf_thresh=0.7,
              widen="always", widen_burst=2, burst_aligned=2, burst_other=2, patience=2,
              n_init=4, max_branches=16, warm_up=1, vote="latest"),
        {"tallied": True, "eager": False, "keyed": False, "leader": True},
    ),
    # windows read probe by probe, finishing in a round or two: rows' windows differ
    "window-burst": (
        Knobs(depth="burst", prune="never", stop="window", widen="always", widen_burst=1,
              n_init=2, burst_aligned=6, burst_other=6, max_branches=18, warm_up=0),
        {"eager": False, "tallied": False, "keyed": True, "smoothed": False},
    ),
    # the pool counted when a row stops, ranked by length, on full reads (column order)
    "window-short-full": (
        replace(FULL, stop="window", widen="always", widen_burst=4, n_init=4, vote="short",
                short_power=2.0),
        {"eager": False, "tallied": False},
    ),
    # the weighted confidence on full reads: counted again as the pool grows
    "weighted-full": (
        replace(FULL, widen="always", widen_burst=2, stop="confidence", conf_thresh=0.85,
                confidence="weighted", short_power=1.0, n_init=2),
        {"eager": True, "tallied": False},
    ),
    # the latest answers' leader while the cohort widens (not every branch open)
    "leader-widening": (
        Knobs(depth="burst", prune="latest", stop="stable", vote="latest", widen="always",
              widen_burst=1, n_init=2, max_branches=10, patience=2, warm_up=1, T_stable=3),
        {"leader": True, "eager": False, "keyed": False},
    ),
    # the leader read only by the answer, after the round limit
    "leader-at-the-end": (
        Knobs(depth="burst", prune="never", stop="never", vote="latest", widen="never",
              n_init=6, max_branches=6, max_rounds=4),
        {"leader": True, "eager": False, "tallied": False, "keyed": False},
    ),
    # the round limit on full reads, the pool counted once at the end
    "full-round-limit": (
        replace(FULL, widen="always", widen_burst=1, stop="never", n_init=1, max_rounds=5),
        {"eager": False, "tallied": False, "smoothed": False},
    ),
    # unaligned branches never read: the depth pass leaves them out
    "no-other-burst": (
        replace(cmc_parts(0.5), burst_other=0, burst_aligned=2),
        {"eager": True, "aligned": True, "smoothed": True},
    ),
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(CASES))
def test_each_case_is_on_its_path(name: str) -> None:
    knobs, path = CASES[name]
    needs = Needs.of(knobs)
    assert {field: getattr(needs, field) for field in path} == path


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_vectorised_equals_solve(name: str, seed: int) -> None:
    knobs = CASES[name][0]
    controller = KnobsController(lambda _beta: knobs)
    replay = random_replay(seed, questions=4, branches=[20, 14], alphabet=3)
    for protocol in (ReferenceProtocol(seeds=4), SubsampleProtocol(draws=2, size=9, seed=seed)):
        fast = run_episodes(controller, replay, protocol, vectorised=True)
        slow = run_episodes(controller, replay, protocol, vectorised=False)
        assert (fast.correct == slow.correct).all(), name
        assert (fast.cost == slow.cost).all(), name
        assert (fast.sequential_cost == slow.sequential_cost).all(), name
