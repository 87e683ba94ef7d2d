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
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from autotts.controllers.composable.builtins import cmc_parts
from autotts.discovery.optimizer.criteria import (
    METRICS,
    QuestionTable,
    bootstrap_score,
    cv_score,
    plain_score,
)
from autotts.discovery.optimizer.objective import (
    SearchData,
    active_parts,
    cmc_reference,
    operating_gains,
    split_questions,
)
from autotts.discovery.optimizer.space import cmc_start, suggest_schedule
from autotts.errors import UnknownName, UsageError
from autotts.evaluation.jobs import DataRef, load_data
from autotts.extras import needs

__all__ = [
    "OBJECTIVES",
    "SAMPLERS",
    "OptimizerSettings",
    "TrialScorer",
    "make_sampler",
    "open_study",
    "worker_main",
]

SAMPLERS = ("tpe", "cmaes", "nsga2", "random")
OBJECTIVES = ("split", "cv", "bootstrap")
STUDY_NAME = "autotts-optimizer"


@dataclass(frozen=True)
class OptimizerSettings:
    """Everything that fixes a search (stored in ``run.json`` under ``optimizer``)."""

    sampler: str = "tpe"
    #: the first search's sampler seed; search k uses seed + k (its workers (seed+k)*1000+w)
    seed: int = 0
    time_budget: float = 1800.0
    #: reference-protocol shuffle seeds each trial is replayed with
    replay_seeds: int = 10
    betas: list[float] = field(default_factory=lambda: [0.0, 0.25, 0.5, 0.75, 1.0])
    #: "split": fit/validation questions; "cv": K-fold over all questions (the β choice is
    #: made without the scored fold); "bootstrap": all questions, a low bootstrap quantile
    objective: str = "cv"
    #: "two-point": CMC's β=0.5 and β=1.0 budgets; "auc": CMC's whole token range
    metric: str = "two-point"
    #: part slots held fixed (not searched), e.g. {"widen": "trend"}
    fixed_parts: dict[str, str] = field(default_factory=dict)
    validation_questions: int = 10
    #: the fit/validation split's (and CV folds') seed; None: each search's own seed
    split_seed: int | None = None
    cv_folds: int = 5
    part_penalty: float = 0.1
    trials_per_round: int = 25
    workers: int = 2
    patience: int = 400
    top_k: int = 10
    #: independent searches in one run (seeds seed … seed+N-1), the winner by a pooled score
    search_seeds: int = 1
    #: structure first (``structure_share`` of each search's time), then its knobs
    staged: bool = True
    structure_share: float = 0.4

    def __post_init__(self) -> None:
        if self.sampler not in SAMPLERS:
            raise UnknownName("sampler", self.sampler, SAMPLERS)
        if self.time_budget <= 0 or self.replay_seeds < 1 or self.workers < 1:
            raise UsageError("--time-budget, --replay-seeds and --workers must be positive")
        if self.search_seeds < 1:
            raise UsageError("--search-seeds must be >= 1")
        if self.objective not in OBJECTIVES:
            raise UnknownName("objective", self.objective, OBJECTIVES)
        if self.metric not in METRICS:
            raise UnknownName("metric", self.metric, METRICS)
        if self.trials_per_round < 1 or self.top_k < 1 or self.cv_folds < 2:
            raise UsageError("--trials-per-round and top_k must be >= 1, cv_folds >= 2")
        if not 0.0 < self.structure_share < 1.0:
            raise UsageError("structure_share must be in (0, 1)")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> OptimizerSettings:
        """Settings from ``run.json``, including runs written before several searches existed.

        Those stored the replay seeds as ``search_seeds``, searched parts and knobs
        together and split questions with ``split_seed = 0``.
        """
        data = dict(data)
        if "replay_seeds" not in data:
            data["replay_seeds"] = data.pop("search_seeds", 10)
            data["search_seeds"] = 1
            data.setdefault("staged", False)
            data.setdefault("objective", "split")
        return cls(**data)

    def split_seed_for(self, search: int) -> int:
        """The split (and folds) seed of search ``search``: drawn from its seed."""
        return self.split_seed if self.split_seed is not None else self.seed + search

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
        # fixed fall back to independent sampling. Optuna >= 4.9 marks x0 deprecated (removal
        # planned for 6.0, hence the extra's upper bound) with no other way to set a start
        # point, so its FutureWarning would only reach the user's terminal once per worker.
        x0 = {k: v for k, v in cmc_start().items() if not isinstance(v, str)}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            return optuna.samplers.CmaEsSampler(
                x0=x0, seed=seed, warn_independent_sampling=False, n_startup_trials=0
            )
    if settings.sampler == "nsga2":
        return optuna.samplers.NSGAIISampler(seed=seed, population_size=40)
    return optuna.samplers.RandomSampler(seed=seed)


def open_study(
    journal: Path, settings: OptimizerSettings, worker: int = 0, name: str = STUDY_NAME
) -> Any:
    with needs("optimize", "the optimizer"):
        import optuna
        from optuna.storages import JournalStorage
        from optuna.storages.journal import JournalFileBackend

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = JournalStorage(JournalFileBackend(str(journal)))
    return optuna.create_study(
        study_name=name,
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
        self.split_seed = settings.split_seed_for(0)
        self.cmc = cmc_reference(data)
        grid = sorted({*settings.betas, 0.0, 0.5, 1.0})
        self.cmc_table = QuestionTable.from_curves(data.run(cmc_parts, grid), data.n_questions)
        val = min(settings.validation_questions, data.n_questions - 1)
        self.fit, self.val = split_questions(data.n_questions, val, self.split_seed)
        if settings.objective != "split":  # every question, read robustly
            self.fit = self.val = np.arange(data.n_questions)

    def robust(self, curves: Any) -> tuple[float, float]:
        """``(fit, validation)`` objective of ``curves`` before penalties."""
        s = self.settings
        table = QuestionTable.from_curves(curves, self.data.n_questions)
        if s.objective == "split":
            return (
                plain_score(table, self.cmc_table, s.metric, self.fit),
                plain_score(table, self.cmc_table, s.metric, self.val),
            )
        if s.objective == "cv":
            score = cv_score(table, self.cmc_table, s.metric, self.split_seed, s.cv_folds)
        else:
            score = bootstrap_score(table, self.cmc_table, s.metric, self.split_seed)
        return score, score

    def pooled(self, curves: Any) -> float:
        """The objective on every search question (before penalties)."""
        if self.settings.objective == "split":
            everyone = np.arange(self.data.n_questions)
            table = QuestionTable.from_curves(curves, self.data.n_questions)
            return plain_score(table, self.cmc_table, self.settings.metric, everyone)
        return self.robust(curves)[0]

    def score(self, schedule: Any) -> dict[str, Any]:
        s = self.settings
        curves = self.data.run(schedule, s.betas)
        penalty = s.part_penalty * active_parts(schedule)
        fit = operating_gains(curves, self.cmc, self.fit)
        val = operating_gains(curves, self.cmc, self.val)
        per_file = [
            curves.point(i, f, replay)
            for f, replay in enumerate(self.data.replays)
            for i in range(len(curves.betas))
        ]
        tokens = np.array([[p["tokens"] for p in per_file if p["model"] == r.model]
                           for r in self.data.replays])  # fmt: skip
        monotone = bool((np.diff(tokens, axis=1) >= -1e-9).all())
        fit_obj, val_obj = self.robust(curves)
        charge = penalty + (0 if monotone else 1.0)
        fit_obj, val_obj = fit_obj - charge, val_obj - charge
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
    study_name: str = STUDY_NAME,
    seconds_from_ready: float | None = None,
) -> None:
    """Entry point of a worker process (``deadline`` is a ``time.time()`` instant).

    With ``seconds_from_ready``, the deadline is instead that many seconds after the
    worker has loaded its data: a short slice of search (the optimiser proposer's)
    would otherwise be spent starting the process.

    ``settings_dict`` are one search's settings (its seed, split seed, fixed parts);
    the driver has queued the study's first trial before starting the workers.
    """
    with needs("optimize", "the optimizer"):
        import optuna

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C and stops us
    settings = OptimizerSettings(**settings_dict)
    replays = [load_data(DataRef(*args)) for args in replays_args]
    scorer = TrialScorer(SearchData(replays, settings.replay_seeds), settings)
    study = open_study(Path(journal), settings, worker, study_name)
    if seconds_from_ready is not None:
        deadline = time.time() + seconds_from_ready

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

    finished = [t for t in study.get_trials(deepcopy=False) if t.state.name == "COMPLETE"]
    if worker == 0 and not finished and not os.path.exists(stop_file):
        # Every unit scores at least its start trial, even when starting the workers took
        # its whole share (short budgets on a loaded machine): a stage is never empty.
        study.optimize(objective, n_trials=1, gc_after_trial=False)
    remaining = deadline - time.time()
    if remaining > 0 and not os.path.exists(stop_file):
        study.optimize(objective, timeout=remaining, callbacks=[halt], gc_after_trial=False)
