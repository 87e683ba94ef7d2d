"""Run or resume an optimiser search into a run directory.

Phases: ``run.json`` (settings, search files' SHA-256 and the pre-registered
selection rule, :func:`preregistration`) → for each of ``search_seeds`` searches
(seed, seed+1, …), one or two *units* (staged: structure first, then that
structure's knobs), each an Optuna study in ``RUN/optuna.journal`` shared by
worker processes until its share of the time budget, early stopping on the
selection criterion or Ctrl-C → finished trials become rounds as they complete →
each search's pick by the criterion → the run's winner among the picks by their
pooled search-set score at 100 replay seeds → a final round holding it →
``selection.json``. Held-out files are not touched here (see :mod:`.heldout`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from autotts.controllers.composable import BetaSchedule
from autotts.discovery.optimizer.objective import (
    SearchData,
    active_parts,
    cmc_reference,
    operating_gains,
)
from autotts.discovery.optimizer.rounds import write_candidate_round, write_rounds
from autotts.discovery.optimizer.trials import fail_stale, run_trials
from autotts.discovery.optimizer.worker import (
    STUDY_NAME,
    OptimizerSettings,
    TrialScorer,
    open_study,
)
from autotts.discovery.records import Selection
from autotts.discovery.rundir import RunDir
from autotts.discovery.settings import DiscoverySettings
from autotts.errors import UsageError
from autotts.evaluation.jobs import DataRef, load_data

__all__ = [
    "SELECTION_RULE",
    "Unit",
    "finished_trials",
    "preregistration",
    "run_optimizer",
    "select_trial",
    "units",
]

Event = Callable[[dict[str, Any]], None]
SELECTION_RULE = (
    "among the top_k trials by fit objective (fit questions of the search set), the best "
    "by validation objective (held-back questions of the search set)"
)
#: When a run's winner may replace the built-in found by an earlier search (``swc``).
BUILTIN_RULE = (
    "the winner replaces the built-in only if, on the held-out files (100 seeds), at each of "
    "CMC's operating points (β=0.5, β=1.0) the β the search set chose for that budget has "
    "mean tokens within CMC's and an accuracy gain whose paired-bootstrap 95 % lower bound "
    "is above zero (questions resampled jointly across models)"
)
#: Replay seeds of the pooled score that picks the run's winner among the searches' picks.
POOLED_SEEDS = 100
#: The β grid of the winner's search-set curve, which chooses its β for each CMC budget.
WINNER_GRID = [round(0.05 * i, 10) for i in range(21)]


def preregistration(settings: OptimizerSettings) -> dict[str, Any]:
    """The selection rule, fixed in ``run.json`` before the first trial runs."""
    s = settings
    criterion = {
        "split": f"fit objective on the fit questions, validation objective on "
        f"{s.validation_questions} held-back questions (split seeded by the search's seed)",
        "cv": f"{s.cv_folds}-fold cross-validation over all search questions: each fold "
        "scored at the β its other folds choose (folds seeded by the search's seed)",
        "bootstrap": "25th percentile of the mean gain over 200 question resamples "
        "(questions drawn jointly across files; seeded by the search's seed)",
    }[s.objective]
    metric = {
        "two-point": "mean over CMC's β=0.5 and β=1.0 token budgets of the best accuracy "
        "within the budget minus CMC's (points)",
        "auc": "area between the candidate's and CMC's best-within-budget curves over CMC's "
        "whole token range (48 budgets, even in log tokens), divided by its width; 0 % below "
        "the candidate's cheapest point, 1 point per unit share of the range beyond its "
        "dearest",
    }[s.metric]
    return {
        "objective": f"{metric}; read by {criterion}; minus {s.part_penalty} per active part, "
        "minus 1 if tokens fall as β grows",
        "selection": SELECTION_RULE,
        "early_stopping": f"a unit stops when the trial the selection rule picks has not "
        f"changed for {s.patience} finished trials",
        "searches": [
            {
                "search": k,
                "sampler_seed": s.seed + k,
                "split_seed": s.split_seed_for(k),
                "units": [u.study for u in units(s) if u.search == k],
            }
            for k in range(s.search_seeds)
        ],
        "staged": (
            f"structure and knobs for {100 * s.structure_share:.0f} % of each search's time, "
            "then the picked structure held fixed and its knobs searched with the rest "
            "(started at the picked trial); the search's pick comes from the second stage"
            if s.staged
            else "structure and knobs searched together"
        ),
        "pooled_rule": f"the run's winner is the search pick with the highest objective "
        f"(same reading) on all search questions at {POOLED_SEEDS} replay seeds",
        "heldout": "evaluated once, after selection.json is written, for the winner only",
        "builtin_rule": BUILTIN_RULE,
    }


@dataclass(frozen=True)
class Unit:
    """One Optuna study of a run: search ``search``'s stage ``stage``."""

    search: int
    stage: str  # "joint", "structure" or "knobs"
    share: float  # of the run's time budget

    @property
    def study(self) -> str:
        if self.stage == "joint":
            # the first search keeps the name single-search runs always had (they resume)
            return STUDY_NAME if self.search == 0 else f"{STUDY_NAME}-s{self.search}"
        return f"{STUDY_NAME}-s{self.search}-{self.stage}"


def units(settings: OptimizerSettings) -> list[Unit]:
    """Every unit in the order they run."""
    n = settings.search_seeds
    out = []
    for k in range(n):
        if settings.staged:
            out.append(Unit(k, "structure", settings.structure_share / n))
            out.append(Unit(k, "knobs", (1.0 - settings.structure_share) / n))
        else:
            out.append(Unit(k, "joint", 1.0 / n))
    return out


def finished_trials(study: Any) -> list[Any]:
    return [t for t in study.get_trials(deepcopy=False) if t.state.name == "COMPLETE"]


def select_trial(trials: list[Any], top_k: int) -> Any | None:
    """The winner: best validation among the ``top_k`` best by fit (ties: fit, then number).

    With the ``cv`` and ``bootstrap`` objectives validation equals fit, so this is
    the best trial by the robust objective.
    """
    scored = [t for t in trials if "fit_objective" in t.user_attrs]
    if not scored:
        return None
    top = sorted(scored, key=lambda t: (-t.user_attrs["fit_objective"], t.number))[:top_k]
    return max(
        top, key=lambda t: (t.user_attrs["validation"], t.user_attrs["fit_objective"], -t.number)
    )


class EarlyStop:
    """Stops a unit when the selection rule's pick has not changed for ``patience`` trials.

    Counting from the best validation score alone let one lucky trial (outside
    the top by fit, so never selectable) freeze a search; this follows what the
    rule would actually select.
    """

    def __init__(self, top_k: int, patience: int) -> None:
        self.top_k = top_k
        self.patience = patience
        self.pick: int | None = None
        self.since = 0

    def update(self, trials: list[Any]) -> bool:
        """``True`` when the unit should stop (``trials``: its finished trials)."""
        chosen = select_trial(trials, self.top_k)
        if chosen is None:
            return False
        if chosen.number != self.pick:
            self.pick, self.since = chosen.number, len(trials)
        return len(trials) - self.since >= self.patience


def _frontier(trials: list[Any]) -> str:
    best_fit = max(trials, key=lambda t: t.user_attrs["fit_objective"])
    best_val = max(trials, key=lambda t: t.user_attrs["validation"])
    gains = best_fit.user_attrs["fit_gains"]
    pts = ", ".join(
        f"≤CMC{g['cmc_beta']:g}: {g['accuracy']:.2f}% at {g['tokens'] / 1000:.0f}k "
        f"({g['gain']:+.2f})"
        for g in gains
    )
    return (
        f"best fit {best_fit.user_attrs['fit_objective']:+.3f} (trial {best_fit.number}: {pts}); "
        f"best validation {best_val.user_attrs['validation']:+.3f} (trial {best_val.number})"
    )


def run_optimizer(
    out: Path | str,
    *,
    search: list[DataRef] | None = None,
    heldout: list[DataRef] | None = None,
    settings: OptimizerSettings | None = None,
    resume: bool = False,
    time_budget: float | None = None,
    on_event: Event | None = None,
) -> RunDir:
    """Run (or with ``resume`` continue) a search; returns the run directory."""
    emit = on_event or (lambda _e: None)
    run = RunDir(out)
    if resume:
        meta = run.settings()
        if "optimizer" not in meta:
            raise UsageError(f"{run.path} was not written by the optimiser")
        settings = OptimizerSettings.from_dict(meta["optimizer"])
        ds = DiscoverySettings.from_run_json(meta)
        search = ds.search
        dropped = run.recover()
        if dropped:
            emit({"phase": "recover", "dropped": dropped})
    else:
        if settings is None or not search:
            raise UsageError("a new optimiser run needs settings and search files")
        ds = DiscoverySettings(
            search=list(search),
            heldout=list(heldout or []),
            betas=list(settings.betas),
            protocol_args={"name": "reference", "seeds": settings.replay_seeds},
            rounds=1,
        )
        meta = ds.to_run_json({"kind": "optimizer", **settings.to_dict()})
        meta["optimizer"] = settings.to_dict()
        meta["preregistered"] = preregistration(settings)
        meta["limits"]["max_time"] = settings.time_budget
        run.create(meta)  # the rule is on disk before any worker starts
    assert settings is not None and search is not None
    journal = run.file("optuna.journal")
    stop_file = run.file("optimizer.stop")
    spent = _searched_seconds(run)
    budget = time_budget if time_budget is not None else settings.time_budget - spent
    if not run.file("selection.json").is_file():
        done = _done_units(run)
        todo = [u for u in units(settings) if u.study not in done]
        # Units share the search time (workers running), not the wall clock: sealing a
        # unit's rounds (a sandboxed check each) must not eat the next search's share.
        left = max(0.0, budget)
        for i, unit in enumerate(todo):
            share = unit.share / sum(u.share for u in todo[i:])
            unit_settings = _unit_settings(run, settings, unit)
            study = open_study(journal, unit_settings, name=unit.study)
            fail_stale(study)
            if left * share > 0:
                stop_file.unlink(missing_ok=True)
                reason, used = _search(run, study, unit, unit_settings, search, meta,
                                       left * share, stop_file, emit)  # fmt: skip
                left -= used
            else:
                reason = "no time left"
            pick = select_trial(finished_trials(study), settings.top_k)
            done[unit.study] = {"pick": None if pick is None else pick.number,
                                "stopped_by": reason,
                                "trials": len(finished_trials(study))}  # fmt: skip
            run.write_json("optimizer_units.json", done)
        _select(run, settings, search, meta, emit)
    return run


def _done_units(run: RunDir) -> dict[str, Any]:
    path = run.file("optimizer_units.json")
    return dict(run.read_json("optimizer_units.json")) if path.is_file() else {}


def _unit_settings(run: RunDir, settings: OptimizerSettings, unit: Unit) -> OptimizerSettings:
    """The settings a unit's workers run with: its search's seeds, its fixed parts."""
    fixed = dict(settings.fixed_parts)
    if unit.stage == "knobs":
        first = _unit_pick(run, settings, Unit(unit.search, "structure", 0.0))
        if first is not None:
            fixed = {**BetaSchedule.from_dict(first.user_attrs["schedule"]).parts, **fixed}
    return replace(
        settings,
        seed=settings.seed + unit.search,
        split_seed=settings.split_seed_for(unit.search),
        fixed_parts=fixed,
    )


def _unit_pick(run: RunDir, settings: OptimizerSettings, unit: Unit) -> Any | None:
    study = open_study(run.file("optuna.journal"), settings, name=unit.study)
    return select_trial(finished_trials(study), settings.top_k)


def _unit_start(run: RunDir, settings: OptimizerSettings, unit: Unit) -> dict[str, Any] | None:
    """A knobs stage starts at its structure stage's pick (its parameters)."""
    if unit.stage != "knobs":
        return None
    first = _unit_pick(run, settings, Unit(unit.search, "structure", 0.0))
    return None if first is None else dict(first.params)


def _searched_seconds(run: RunDir) -> float:
    """Search time spent by earlier sessions of this run (``optimizer_time.json``)."""
    path = run.file("optimizer_time.json")
    return float(run.read_json("optimizer_time.json")["seconds"]) if path.is_file() else 0.0


def _search(
    run: RunDir,
    study: Any,
    unit: Unit,
    settings: OptimizerSettings,
    search: list[DataRef],
    meta: dict[str, Any],
    budget: float,
    stop_file: Path,
    emit: Event,
) -> tuple[str, float]:
    """Run one unit until its budget, early stopping or Ctrl-C: why it stopped, seconds."""
    emit({"phase": "start", "workers": settings.workers, "budget": budget,
          "search": unit.search, "stage": unit.stage})  # fmt: skip
    before = _searched_seconds(run)
    early = EarlyStop(settings.top_k, settings.patience)
    last_rounds = [time.monotonic()]

    def tick(elapsed: float) -> str | None:
        run.write_json("optimizer_time.json", {"seconds": before + elapsed})
        reason = None
        trials = finished_trials(study)
        if trials:
            emit({"phase": "progress", "trials": len(trials), "elapsed": elapsed,
                  "frontier": _frontier(trials)})  # fmt: skip
            if early.update(trials):
                reason = (f"early stopping: the selected trial ({early.pick}) unchanged "
                          f"for {settings.patience} trials")  # fmt: skip
        if time.monotonic() - last_rounds[0] > 10:
            _rounds(run, study, unit, settings, search, meta, emit)
            last_rounds[0] = time.monotonic()
        return reason

    try:
        start = _unit_start(run, settings, unit)
        journal = run.file("optuna.journal")
        reason, used = run_trials(
            study, unit.study, journal, settings, search, budget, stop_file, tick, start=start
        )
    except KeyboardInterrupt:
        _rounds(run, study, unit, settings, search, meta, emit, flush=True)
        raise
    if reason is not None:
        emit({"phase": "stop", "reason": reason})
    run.write_json("optimizer_time.json", {"seconds": before + used})
    _rounds(run, study, unit, settings, search, meta, emit, flush=True)
    return reason or "time budget", used


def _rounds(
    run: RunDir,
    study: Any,
    unit: Unit,
    settings: OptimizerSettings,
    search: list[DataRef],
    meta: dict[str, Any],
    emit: Event,
    flush: bool = False,
) -> None:
    write_rounds(run, study.get_trials(deepcopy=False), settings.trials_per_round, search,
                 settings.to_dict(), flush=flush, emit=emit, study=unit.study)  # fmt: skip


def pooled_scores(
    data: SearchData, settings: OptimizerSettings, schedules: list[BetaSchedule]
) -> list[float]:
    """Each schedule's objective on all search questions of ``data``, minus its part penalty.

    Read as during the search (the first search's split seed); the split objective,
    whose fit and validation parts are two halves of one reading, is read on all
    questions with the choices made on them.
    """
    scorer = TrialScorer(data, replace(settings, split_seed=settings.split_seed_for(0)))
    return [
        scorer.pooled(data.run(s, settings.betas)) - settings.part_penalty * active_parts(s)
        for s in schedules
    ]


def _select(
    run: RunDir,
    settings: OptimizerSettings,
    search: list[DataRef],
    meta: dict[str, Any],
    emit: Event,
) -> None:
    journal = run.file("optuna.journal")
    picks: list[tuple[int, Any]] = []
    total = 0
    for k in range(settings.search_seeds):
        # the last stage that finished a trial (a knobs stage cut off before its first
        # trial leaves the structure stage's pick)
        chosen = None
        for unit in reversed([u for u in units(settings) if u.search == k]):
            done = finished_trials(open_study(journal, settings, name=unit.study))
            total += len(done)
            chosen = chosen or select_trial(done, settings.top_k)
        if chosen is not None:
            picks.append((k, chosen))
    payload: dict[str, Any] = {"round": None, "beta": None, "rule": "optimizer"}
    if picks:
        data = SearchData([load_data(r) for r in search], seeds=POOLED_SEEDS)
        schedules = [BetaSchedule.from_dict(t.user_attrs["schedule"]) for _, t in picks]
        pooled = pooled_scores(data, settings, schedules) if len(picks) > 1 else [float("nan")]
        best = int(np.nanargmax(pooled)) if len(picks) > 1 else 0
        searches = [
            {"search": k, "trial": t.number, "fit_objective": t.user_attrs["fit_objective"],
             "validation": t.user_attrs["validation"], "pooled_score": pooled[i],
             "schedule": schedules[i].to_dict()}
            for i, (k, t) in enumerate(picks)
        ]  # fmt: skip
        k_win, winner = picks[best]
        schedule = schedules[best]
        emit({"phase": "winner", "trial": winner.number, "search": k_win})
        grid = WINNER_GRID
        curves = data.run(schedule, grid)
        gains = operating_gains(curves, cmc_reference(data))
        points = [
            curves.point(i, f, replay)
            for i in range(len(grid))
            for f, replay in enumerate(data.replays)
        ]
        number = run.next_round()
        name = "opt-winner"
        provenance = {
            "trial": winner.number,
            "search": k_win,
            "rule": SELECTION_RULE,
            "preregistered": meta.get("preregistered"),
            "settings": meta["optimizer"],
            "search_files": meta["search"],
            "started": meta.get("started"),
            "trials_finished": total,
        }
        summary = {"round": number, "rounds": None, "name": name, "trial": winner.number,
                   "fit_objective": winner.user_attrs["fit_objective"],
                   "validation": winner.user_attrs["validation"]}  # fmt: skip
        proposal = {"kind": "optimizer", "selected_trial": winner.number, "rule": SELECTION_RULE,
                    "search": k_win, "searches": searches,
                    "schedule": schedule.to_dict(), "search_gains_100_seeds": gains}  # fmt: skip
        write_candidate_round(
            run, number, schedule, name, provenance, proposal, summary, search, points
        )
        payload = {
            "round": number,
            "name": name,
            "class": run.index()[-1].class_name,
            "beta": gains[-1]["beta"],
            "betas_at_cmc_budgets": {str(g["cmc_beta"]): g["beta"] for g in gains},
            "rule": "optimizer",
            "objective": SELECTION_RULE,
            "preregistered": meta.get("preregistered"),
            "trial": winner.number,
            "search": k_win,
            "searches": searches,
            "search_gains_100_seeds": gains,
            "schedule": schedule.to_dict(),
        }
    payload["read"] = [
        {"model": e["model"], "benchmark": e["benchmark"], "sha256": e["sha256"]}
        for e in meta["search"]
    ]
    # read into the record in the order built here (the optimiser's keys after the name)
    run.write_selection(Selection.from_dict(payload))
    emit({"phase": "select", "selection": payload})
