"""One optimiser worker process: load the search files, run trials into the shared study.

Workers share the study through Optuna's journal file (safe across processes),
so a search uses every core and a killed run keeps every finished trial. Each
worker has its own sampler seed (``seed + worker``) so they do not propose alike.
A worker stops at its deadline or when the ``stop`` file appears.
"""

from __future__ import annotations

import os
import signal
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from autotts.discovery.optimizer.objective import (
    SearchData,
    active_parts,
    bootstrap_objective,
    cmc_reference,
    operating_gains,
    split_questions,
)
from autotts.discovery.optimizer.space import cmc_start, suggest_schedule
from autotts.errors import UnknownName, UsageError
from autotts.evaluation.jobs import DataRef, load_data
from autotts.extras import needs

__all__ = ["SAMPLERS", "OptimizerSettings", "make_sampler", "open_study", "worker_main"]

SAMPLERS = ("tpe", "cmaes", "nsga2", "random")
STUDY_NAME = "autotts-optimizer"


@dataclass(frozen=True)
class OptimizerSettings:
    """Everything that fixes a search (stored in ``run.json`` under ``optimizer``)."""

    sampler: str = "tpe"
    seed: int = 0
    time_budget: float = 1800.0
    search_seeds: int = 10
    betas: list[float] = field(default_factory=lambda: [0.0, 0.25, 0.5, 0.75, 1.0])
    #: "split": fit/validation questions; "bootstrap": all questions, a low bootstrap quantile
    objective: str = "split"
    #: part slots held fixed (not searched), e.g. {"widen": "trend"}
    fixed_parts: dict[str, str] = field(default_factory=dict)
    validation_questions: int = 10
    split_seed: int = 0
    part_penalty: float = 0.1
    trials_per_round: int = 25
    workers: int = 2
    patience: int = 400
    top_k: int = 10

    def __post_init__(self) -> None:
        if self.sampler not in SAMPLERS:
            raise UnknownName("sampler", self.sampler, SAMPLERS)
        if self.time_budget <= 0 or self.search_seeds < 1 or self.workers < 1:
            raise UsageError("--time-budget, --search-seeds and --workers must be positive")
        if self.objective not in ("split", "bootstrap"):
            raise UnknownName("objective", self.objective, ("split", "bootstrap"))
        if self.trials_per_round < 1 or self.top_k < 1:
            raise UsageError("--trials-per-round and top_k must be >= 1")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def multi_objective(self) -> bool:
        return self.sampler == "nsga2"


def make_sampler(settings: OptimizerSettings, worker: int) -> Any:
    with needs("optimize", "the optimizer"):
        import optuna

    seed = settings.seed * 1000 + worker
    if settings.sampler == "tpe":
        return optuna.samplers.TPESampler(seed=seed, multivariate=True, n_startup_trials=30)
    if settings.sampler == "cmaes":
        # CMA-ES covers the numbers, starting from CMC's schedule; categorical parts not held
        # fixed fall back to independent sampling.
        x0 = {k: v for k, v in cmc_start().items() if not isinstance(v, str)}
        return optuna.samplers.CmaEsSampler(
            x0=x0, seed=seed, warn_independent_sampling=False, n_startup_trials=0
        )
    if settings.sampler == "nsga2":
        return optuna.samplers.NSGAIISampler(seed=seed, population_size=40)
    return optuna.samplers.RandomSampler(seed=seed)


def open_study(journal: Path, settings: OptimizerSettings, worker: int = 0) -> Any:
    with needs("optimize", "the optimizer"):
        import optuna
        from optuna.storages import JournalStorage
        from optuna.storages.journal import JournalFileBackend

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = JournalStorage(JournalFileBackend(str(journal)))
    return optuna.create_study(
        study_name=STUDY_NAME,
        storage=storage,
        sampler=make_sampler(settings, worker),
        directions=["maximize"] * (2 if settings.multi_objective else 1),
        load_if_exists=True,
    )


class TrialScorer:
    """Scores schedules on the search data: fit objective, validation objective, curves."""

    def __init__(self, data: SearchData, settings: OptimizerSettings) -> None:
        self.data = data
        self.settings = settings
        self.cmc = cmc_reference(data)
        val = min(settings.validation_questions, data.n_questions - 1)
        self.fit, self.val = split_questions(data.n_questions, val, settings.split_seed)
        if settings.objective == "bootstrap":  # every question, judged by a low quantile
            self.fit = self.val = np.arange(data.n_questions)

    def score(self, schedule: Any) -> dict[str, Any]:
        s = self.settings
        curves = self.data.run(schedule, s.betas)
        penalty = s.part_penalty * active_parts(schedule)
        fit = operating_gains(curves, self.cmc, self.fit)
        val = operating_gains(curves, self.cmc, self.val)
        per_file = []
        for f, replay in enumerate(self.data.replays):
            for i, beta in enumerate(curves.betas):
                per_file.append(
                    {
                        "model": replay.model,
                        "benchmark": replay.benchmark,
                        "beta": beta,
                        "accuracy": 100.0 * float(curves.correct[i][f].mean()),
                        "tokens": float(curves.tokens[i][f].mean()),
                        "seq_tokens": float(curves.seq_tokens[i][f].mean()),
                    }
                )
        tokens = np.array([[p["tokens"] for p in per_file if p["model"] == r.model]
                           for r in self.data.replays])  # fmt: skip
        monotone = bool((np.diff(tokens, axis=1) >= -1e-9).all())
        fit_obj = float(np.mean([g["gain"] for g in fit])) - penalty - (0 if monotone else 1.0)
        val_obj = float(np.mean([g["gain"] for g in val])) - penalty - (0 if monotone else 1.0)
        if s.objective == "bootstrap":
            fit_obj = bootstrap_objective(curves, self.cmc, fit, seed=s.split_seed)
            fit_obj -= penalty + (0 if monotone else 1.0)
            val_obj = fit_obj
        return {
            "schedule": schedule.to_dict(),
            "fit_objective": fit_obj,
            "validation": val_obj,
            "fit_gains": fit,
            "validation_gains": val,
            "active_parts": active_parts(schedule),
            "monotone": monotone,
            "points": per_file,
        }


def worker_main(
    journal: str,
    replays_args: list[tuple[str, str, str]],
    settings_dict: dict[str, Any],
    worker: int,
    deadline: float,
    stop_file: str,
) -> None:
    """Entry point of a worker process (``deadline`` is a ``time.time()`` instant)."""
    with needs("optimize", "the optimizer"):
        import optuna

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C and stops us
    settings = OptimizerSettings(**settings_dict)
    replays = [load_data(DataRef(*args)) for args in replays_args]
    scorer = TrialScorer(SearchData(replays, settings.search_seeds), settings)
    study = open_study(Path(journal), settings, worker)
    if worker == 0 and not study.trials:
        start = {k: v for k, v in cmc_start().items() if k not in settings.fixed_parts}
        study.enqueue_trial(start)

    def objective(trial: optuna.Trial) -> float | tuple[float, float]:
        t0 = time.monotonic()
        result = scorer.score(suggest_schedule(trial, settings.fixed_parts))
        result["seconds"] = round(time.monotonic() - t0, 3)
        result["worker"] = worker
        for key, value in result.items():
            trial.set_user_attr(key, value)
        if settings.multi_objective:
            fit = result["fit_gains"]
            return float(fit[0]["gain"]), float(fit[1]["gain"])
        return float(result["fit_objective"])

    def halt(study: optuna.Study, _trial: Any) -> None:
        if os.path.exists(stop_file) or time.time() >= deadline:
            study.stop()

    remaining = deadline - time.time()
    if remaining > 0 and not os.path.exists(stop_file):
        study.optimize(objective, timeout=remaining, callbacks=[halt], gc_after_trial=False)
