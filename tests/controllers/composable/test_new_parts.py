"""The futility stop and the length-weighted confidence: what they change, what they leave
alone, and the same answers and tokens on the vectorised and episode-at-a-time paths."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from autotts.controllers.composable import Knobs, KnobsController
from autotts.controllers.composable.builtins import cmc_parts
from autotts.evaluation.protocols import ReferenceProtocol
from autotts.evaluation.runner import EpisodeTable, run_episodes

from ..random_replay import random_replay

PROTOCOL = ReferenceProtocol(seeds=4)


def _run(knobs: Knobs, seed: int, vectorised: bool = True) -> EpisodeTable:
    replay = random_replay(seed, questions=4, branches=20, alphabet=4)
    return run_episodes(KnobsController(lambda _b: knobs), replay, PROTOCOL, vectorised=vectorised)


def _same(a: EpisodeTable, b: EpisodeTable) -> bool:
    return bool(
        (a.correct == b.correct).all()
        and (a.cost == b.cost).all()
        and (a.sequential_cost == b.sequential_cost).all()
    )


WIDE = replace(cmc_parts(1.0), widen="always", stop="never", warm_up=1, max_branches=20)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_futile_stop_spends_less_and_never_more(seed: int) -> None:
    base = _run(WIDE, seed)
    futile = _run(replace(WIDE, give_up="futile", futile_after=4, futile_conf=0.99), seed)
    assert (futile.cost <= base.cost + 1e-9).all()
    assert futile.cost.mean() < base.cost.mean()


@pytest.mark.parametrize("seed", [0, 1])
def test_futile_stop_that_never_fires_changes_nothing(seed: int) -> None:
    # no pool confidence is below 0, and no episode opens more than 20 of 20 branches + 1
    for knobs in (
        replace(WIDE, give_up="futile", futile_after=4, futile_conf=0.0),
        replace(WIDE, give_up="futile", futile_after=21, futile_conf=0.99),
    ):
        assert _same(_run(knobs, seed), _run(WIDE, seed))


@pytest.mark.parametrize("seed", [0, 1])
def test_weighted_confidence_with_equal_weights_is_the_count_confidence(seed: int) -> None:
    knobs = replace(cmc_parts(0.5), short_power=0.0)
    assert _same(_run(replace(knobs, confidence="weighted"), seed), _run(knobs, seed))


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
@pytest.mark.parametrize(
    "knobs",
    [
        replace(WIDE, give_up="futile", futile_after=6, futile_conf=0.8),
        replace(cmc_parts(1.0), confidence="weighted", short_power=1.5),
        replace(
            cmc_parts(0.5),
            confidence="weighted",
            vote="short",
            short_power=2.5,
            give_up="futile",
            futile_after=5,
            futile_conf=0.7,
        ),
        replace(WIDE, stop="confidence", conf_thresh=0.9, confidence="weighted", short_power=1.0),
    ],
)
def test_vectorised_equals_solve(knobs: Knobs, seed: int) -> None:
    assert _same(_run(knobs, seed, vectorised=True), _run(knobs, seed, vectorised=False))


def test_weighted_confidence_changes_some_episode() -> None:
    knobs = replace(cmc_parts(1.0), short_power=3.0)
    differ = [
        not _same(_run(replace(knobs, confidence="weighted"), s), _run(knobs, s)) for s in range(6)
    ]
    assert any(differ)
    assert np.isfinite(_run(replace(knobs, confidence="weighted"), 0).cost).all()
