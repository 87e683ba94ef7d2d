"""The composed controller: built-ins expressed as parts give the built-ins' numbers,
and the vectorised path returns exactly what the episode-at-a-time one returns."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from autotts.controllers.composable import (
    KNOB_RANGES,
    PART_CHOICES,
    BetaSchedule,
    Composed,
    KnobsController,
)
from autotts.controllers.composable.builtins import COMPOSED_BUILTINS
from autotts.controllers.registry import ControllerSpec, build
from autotts.data.loading import load_replay
from autotts.evaluation.protocols import ReferenceProtocol
from autotts.evaluation.runner import EpisodeTable, run_episodes

from ..random_replay import random_replay


def _differ(a: EpisodeTable, b: EpisodeTable) -> np.ndarray:
    return np.argwhere(
        (a.correct != b.correct) | (a.cost != b.cost) | (a.sequential_cost != b.sequential_cost)
    )


@pytest.mark.parametrize("name", sorted(COMPOSED_BUILTINS))
@pytest.mark.parametrize("beta", [0.0, 0.5, 1.0])
def test_composed_builtin_equals_hand_written_on_shared_data(
    shared_replay_dir: Path, name: str, beta: float
) -> None:
    replay = load_replay(shared_replay_dir / "Qwen3-1.7B" / "aime24.json")
    protocol = ReferenceProtocol(seeds=100)
    # the hand-written controller's own solve(): CMC's fast path is the composable kernel,
    # so comparing with its vectorised run would compare that kernel with itself
    hand_written = build(ControllerSpec(name, beta=beta))
    reference = run_episodes(hand_written, replay, protocol, vectorised=False)
    composed = run_episodes(KnobsController(COMPOSED_BUILTINS[name], beta), replay, protocol)
    where = _differ(composed, reference)
    assert where.size == 0, f"{name} β={beta}: first differing episode {where[0]}"
    assert composed.correct.mean() == reference.correct.mean()


@pytest.mark.parametrize("name", sorted(COMPOSED_BUILTINS))
@pytest.mark.parametrize("seed", [0, 1])
def test_composed_builtin_equals_hand_written_on_random_data(name: str, seed: int) -> None:
    replay = random_replay(seed, questions=3, branches=18, alphabet=3)
    protocol = ReferenceProtocol(seeds=5)
    for beta in (0.0, 0.35, 0.8, 1.0):
        hand_written = build(ControllerSpec(name, beta=beta))
        reference = run_episodes(hand_written, replay, protocol, vectorised=False)
        controller = KnobsController(COMPOSED_BUILTINS[name], beta)
        for vectorised in (True, False):
            got = run_episodes(controller, replay, protocol, vectorised=vectorised)
            assert _differ(got, reference).size == 0, (name, beta, vectorised)


def _schedules() -> st.SearchStrategy[BetaSchedule]:
    parts = st.fixed_dictionaries(
        {slot: st.sampled_from(choices) for slot, choices in PART_CHOICES.items()}
        | {"depth": st.sampled_from(("burst", "full"))}
    )
    bounds = st.fixed_dictionaries(
        {
            name: st.tuples(st.floats(spec.low, spec.high), st.floats(spec.low, spec.high))
            for name, spec in KNOB_RANGES.items()
        }
    )
    return st.builds(BetaSchedule, parts, bounds, st.floats(0.25, 4.0))


@settings(max_examples=40, deadline=None)
@given(
    schedule=_schedules(),
    beta=st.floats(0.0, 1.0),
    seed=st.integers(0, 10_000),
    alphabet=st.integers(1, 5),
)
def test_vectorised_equals_solve_for_any_composition(
    schedule: BetaSchedule, beta: float, seed: int, alphabet: int
) -> None:
    replay = random_replay(seed, questions=3, branches=14, alphabet=alphabet)
    controller = Composed(schedule, beta)
    protocol = ReferenceProtocol(seeds=3)
    fast = run_episodes(controller, replay, protocol, vectorised=True)
    slow = run_episodes(controller, replay, protocol, vectorised=False)
    where = _differ(fast, slow)
    assert where.size == 0, f"{schedule} β={beta}: first differing episode {where[0]}"


def test_schedule_is_monotone_in_spend() -> None:
    schedule = BetaSchedule(
        parts={"stop": "momentum"},
        bounds={"n_init": (2, 9), "ema_alpha": (0.2, 0.8), "conf_thresh": (0.9, 0.6)},
        power=2.0,
    )
    low, mid, high = (schedule.knobs(b) for b in (0.0, 0.5, 1.0))
    assert (low.n_init, mid.n_init, high.n_init) == (2, 4, 9)
    assert low.ema_alpha == 0.8 and high.ema_alpha == 0.2  # lower alpha spends more
    assert low.conf_thresh == 0.6 and high.conf_thresh == 0.9  # bounds are sorted
    assert BetaSchedule.from_dict(schedule.to_dict()) == schedule
