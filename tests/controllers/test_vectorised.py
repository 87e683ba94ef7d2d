"""Every vectorised controller returns exactly what its solve() returns, episode by episode."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from autotts.controllers.registry import REGISTRY, ControllerSpec, build
from autotts.evaluation.protocols import ReferenceProtocol, SubsampleProtocol
from autotts.evaluation.runner import run_episodes

from .random_replay import random_replay

SPECS = [
    ControllerSpec("sc", params={"n": 1}),
    ControllerSpec("sc", params={"n": 7}),
    ControllerSpec("sc", params={"n": 100}),
    ControllerSpec("asc", params={"max_samples": 16, "threshold": 0.6}),
    ControllerSpec("asc", params={"max_samples": 64, "threshold": 0.95}),
    ControllerSpec("esc", params={"max_samples": 20, "window_size": 3}),
    ControllerSpec("esc", params={"max_samples": 64, "window_size": 8}),
    ControllerSpec(
        "parallel-probe", params={"num_chains": 6, "T": 2, "warm_up": 1, "prune_patience": 1}
    ),
    ControllerSpec(
        "parallel-probe",
        params={"num_chains": 16, "T": 4, "warm_up": 2, "prune_patience": 2, "probe_burst": 2},
    ),
    ControllerSpec("parallel-probe", params={"num_chains": 64, "T": 3, "max_steps": 5}),
    # the built-ins' kernel is the composable one on their settings as parts (sc_knobs, ...):
    # settings at their edges reach it too
    ControllerSpec("asc", params={"max_samples": 9, "threshold": 0.0}),
    ControllerSpec("asc", params={"max_samples": 30, "threshold": 1.0}),
    ControllerSpec("esc", params={"max_samples": 5, "window_size": 8}),
    ControllerSpec("esc", params={"max_samples": 30, "window_size": 1}),
    ControllerSpec(
        "parallel-probe",
        params={"num_chains": 5, "T": 1, "warm_up": 0, "prune_patience": 3, "probe_burst": 4},
    ),
    ControllerSpec("parallel-probe", params={"num_chains": 3, "max_steps": 1}),
    # CMC's kernel is the composable one on its settings as parts (cmc_knobs): settings
    # given one by one reach it too, including n_init above max_branch_use
    ControllerSpec("cmc", params={"beta": 0.3, "n_init": 9, "max_branch_use": 5, "warm_up": 0}),
    ControllerSpec(
        "cmc",
        params={
            "beta": 0.6,
            "burst_aligned": 3,
            "abandon_patience": 1,
            "T_ema": 1,
            "widen_burst": 5,
            "min_complete": 0,
            "ema_alpha": 1.0,
        },
    ),
    *[ControllerSpec(name, beta=b) for name in REGISTRY for b in (0.0, 0.35, 0.8, 1.0)],
]


def _assert_same(spec: ControllerSpec, replay, protocol) -> None:  # type: ignore[no-untyped-def]
    controller = build(spec)
    fast = run_episodes(controller, replay, protocol, vectorised=True)
    slow = run_episodes(controller, replay, protocol, vectorised=False)
    where = np.argwhere(
        (fast.correct != slow.correct)
        | (fast.cost != slow.cost)
        | (fast.sequential_cost != slow.sequential_cost)
    )
    assert where.size == 0, f"{spec.label()}: first differing (replicate, question) {where[0]}"


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.label())
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_vectorised_matches_solve_reference_protocol(spec: ControllerSpec, seed: int) -> None:
    assert build(spec).vectorised() is not None
    _assert_same(spec, random_replay(seed), ReferenceProtocol(seeds=6))


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.label())
def test_vectorised_matches_solve_subsample_and_mixed_pools(spec: ControllerSpec) -> None:
    # questions with different branch counts are batched separately
    replay = random_replay(7, questions=5, branches=[10, 24, 13], alphabet=3)
    _assert_same(spec, replay, SubsampleProtocol(draws=3, size=9, seed=4))
    _assert_same(spec, replay, ReferenceProtocol(seeds=3))


@settings(max_examples=25, deadline=None)
@given(
    name=st.sampled_from(sorted(REGISTRY)),
    beta=st.floats(min_value=0.0, max_value=1.0),
    seed=st.integers(min_value=0, max_value=10_000),
    alphabet=st.integers(min_value=1, max_value=6),
)
def test_vectorised_matches_solve_for_any_beta(
    name: str, beta: float, seed: int, alphabet: int
) -> None:
    replay = random_replay(seed, questions=3, branches=18, alphabet=alphabet)
    _assert_same(ControllerSpec(name, beta=beta), replay, ReferenceProtocol(seeds=3))
