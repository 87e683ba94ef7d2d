"""The search objective on the synthetic store: CMC scores zero against itself, the
bootstrap objective is a low quantile, fixed parts are never searched."""

from __future__ import annotations

import warnings
from dataclasses import replace

import optuna
import pytest

from autotts.controllers.composable.builtins import cmc_parts
from autotts.data.synthetic import synthetic_replay_sets
from autotts.discovery.optimizer.objective import (
    SearchData,
    bootstrap_objective,
    cmc_reference,
    operating_gains,
    split_questions,
)
from autotts.discovery.optimizer.space import suggest_schedule
from autotts.discovery.optimizer.worker import OptimizerSettings, make_sampler


@pytest.fixture(scope="module")
def data() -> SearchData:
    return SearchData([r for r in synthetic_replay_sets() if r.benchmark == "aime24"], seeds=3)


def test_cmc_against_itself_gains_nothing(data: SearchData) -> None:
    cmc = cmc_reference(data)
    curves = data.run(cmc_parts, [0.0, 0.5, 1.0])
    gains = operating_gains(curves, cmc)
    assert [g["beta"] for g in gains] == [0.5, 1.0]
    assert [g["gain"] for g in gains] == [0.0, 0.0]
    assert bootstrap_objective(curves, cmc, gains) == 0.0


def test_bootstrap_objective_is_below_the_mean_gain(data: SearchData) -> None:
    cmc = cmc_reference(data)
    wider = data.run(lambda b: replace(cmc_parts(b), n_init=cmc_parts(b).n_init + 6), [0.5, 1.0])
    gains = operating_gains(wider, cmc)
    usable = [g for g in gains if g["gain"] > -10]
    if not usable:
        pytest.skip("the variant is over both budgets on this data")
    mean = sum(g["gain"] for g in gains) / len(gains)
    assert bootstrap_objective(wider, cmc, gains) <= mean + 1e-9


def test_split_is_a_partition() -> None:
    fit, val = split_questions(30, 10, seed=0)
    assert len(val) == 10 and len(fit) == 20
    assert sorted([*fit, *val]) == list(range(30))


def test_fixed_parts_are_not_suggested() -> None:
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    trial = study.ask()
    schedule = suggest_schedule(trial, {"widen": "trend", "stop": "momentum"})
    assert schedule.parts["widen"] == "trend" and schedule.parts["stop"] == "momentum"
    assert "widen" not in trial.params and "stop" not in trial.params
    assert "prune" in trial.params


@pytest.mark.parametrize("sampler", ["tpe", "cmaes", "nsga2", "random"])
def test_every_sampler_is_built_without_a_warning_reaching_the_terminal(sampler: str) -> None:
    # Optuna >= 4.9 deprecates CMA-ES's start point; each worker would print that warning
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        make_sampler(OptimizerSettings(sampler=sampler), worker=0)
