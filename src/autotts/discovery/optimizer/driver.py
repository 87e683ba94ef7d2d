"""Run or resume an optimiser search into a run directory.

Phases: ``run.json`` (settings, search files' SHA-256) → worker processes share an
Optuna study in ``RUN/optuna.journal`` until the time budget, early stopping or
Ctrl-C → finished trials become rounds as they complete → selection: among the
``top_k`` trials by fit objective, the best by validation objective → a final
round holding the winner, evaluated on the search set with the full protocol →
``selection.json``. Held-out files are not touched here (see :mod:`.heldout`).
"""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from autotts.controllers.composable import BetaSchedule
from autotts.discovery.optimizer.objective import SearchData, cmc_reference, operating_gains
from autotts.discovery.optimizer.rounds import write_candidate_round, write_rounds
from autotts.discovery.optimizer.worker import OptimizerSettings, open_study, worker_main
from autotts.discovery.rundir import RunDir
from autotts.discovery.settings import DiscoverySettings
from autotts.errors import UsageError
from autotts.evaluation.jobs import DataRef, load_data
from autotts.extras import needs

__all__ = ["SELECTION_RULE", "finished_trials", "run_optimizer", "select_trial"]

Event = Callable[[dict[str, Any]], None]
SELECTION_RULE = (
    "among the top_k trials by fit objective (fit questions of the search set), the best "
    "by validation objective (held-back questions of the search set)"
)


def finished_trials(study: Any) -> list[Any]:
    return [t for t in study.get_trials(deepcopy=False) if t.state.name == "COMPLETE"]


def select_trial(trials: list[Any], top_k: int) -> Any | None:
    """The winner: best validation among the ``top_k`` best by fit (ties: fit, then number)."""
    scored = [t for t in trials if "fit_objective" in t.user_attrs]
    if not scored:
        return None
    top = sorted(scored, key=lambda t: (-t.user_attrs["fit_objective"], t.number))[:top_k]
    return max(top, key=lambda t: (t.user_attrs["validation"], t.user_attrs["fit_objective"]))


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
        settings = OptimizerSettings(**meta["optimizer"])
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
            protocol_args={"name": "reference", "seeds": settings.search_seeds},
            rounds=1,
        )
        meta = ds.to_run_json({"kind": "optimizer", **settings.to_dict()})
        meta["optimizer"] = settings.to_dict()
        meta["limits"]["max_time"] = settings.time_budget
        run.create(meta)
    assert settings is not None and search is not None
    journal = run.file("optuna.journal")
    stop_file = run.file("optimizer.stop")
    stop_file.unlink(missing_ok=True)
    study = open_study(journal, settings)
    _fail_stale(study)
    spent = _searched_seconds(run)
    budget = time_budget if time_budget is not None else settings.time_budget - spent
    if not run.file("selection.json").is_file() and budget > 0:
        _search(run, study, settings, search, meta, budget, stop_file, emit)
    if not run.file("selection.json").is_file():
        _select(run, study, settings, search, meta, emit)
    return run


def _searched_seconds(run: RunDir) -> float:
    """Search time spent by earlier sessions of this run (``optimizer_time.json``)."""
    path = run.file("optimizer_time.json")
    return float(run.read_json("optimizer_time.json")["seconds"]) if path.is_file() else 0.0


def _fail_stale(study: Any) -> None:
    """Trials left RUNNING by a killed run will never finish: mark them failed."""
    with needs("optimize", "the optimizer"):
        from optuna.trial import TrialState

    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        study._storage.set_trial_state_values(trial._trial_id, TrialState.FAIL)


def _search(
    run: RunDir,
    study: Any,
    settings: OptimizerSettings,
    search: list[DataRef],
    meta: dict[str, Any],
    budget: float,
    stop_file: Path,
    emit: Event,
) -> None:
    deadline = time.time() + budget
    refs = [(r.store, r.model, r.benchmark) for r in search]
    ctx = multiprocessing.get_context("spawn")
    workers = [
        ctx.Process(
            target=worker_main,
            args=(
                str(run.file("optuna.journal")),
                refs,
                settings.to_dict(),
                w,
                deadline,
                str(stop_file),
            ),
            daemon=True,
        )
        for w in range(settings.workers)
    ]
    for proc in workers:
        proc.start()
    emit({"phase": "start", "workers": settings.workers, "budget": budget})
    started = time.monotonic()
    before = _searched_seconds(run)
    best_val, best_at = float("-inf"), 0
    last_rounds = time.monotonic()
    try:
        while any(p.is_alive() for p in workers):
            time.sleep(2.0)
            run.write_json("optimizer_time.json", {"seconds": before + time.monotonic() - started})
            trials = finished_trials(study)
            if trials:
                for t in trials:
                    if t.user_attrs["validation"] > best_val + 1e-9:
                        best_val, best_at = t.user_attrs["validation"], t.number
                n_done = max(t.number for t in trials) + 1
                emit({"phase": "progress", "trials": len(trials), "elapsed":
                      time.monotonic() - started, "frontier": _frontier(trials)})  # fmt: skip
                if n_done - best_at > settings.patience and not stop_file.exists():
                    stop_file.touch()
                    emit({"phase": "stop", "reason": f"no validation gain in "
                          f"{settings.patience} trials (early stopping)"})  # fmt: skip
            if time.monotonic() - last_rounds > 10:
                _rounds(run, study, settings, search, meta, emit)
                last_rounds = time.monotonic()
    except KeyboardInterrupt:
        stop_file.touch()
        _join(workers)
        _rounds(run, study, settings, search, meta, emit, flush=True)
        raise
    _join(workers)
    _rounds(run, study, settings, search, meta, emit, flush=True)


def _join(workers: list[Any]) -> None:
    for proc in workers:
        proc.join(timeout=60)
        if proc.is_alive():
            proc.terminate()
            proc.join(timeout=10)


def _rounds(
    run: RunDir,
    study: Any,
    settings: OptimizerSettings,
    search: list[DataRef],
    meta: dict[str, Any],
    emit: Event,
    flush: bool = False,
) -> None:
    write_rounds(run, study.get_trials(deepcopy=False), settings.trials_per_round, search,
                 meta["optimizer"], flush=flush, emit=emit)  # fmt: skip


def _select(
    run: RunDir,
    study: Any,
    settings: OptimizerSettings,
    search: list[DataRef],
    meta: dict[str, Any],
    emit: Event,
) -> None:
    trials = finished_trials(study)
    winner = select_trial(trials, settings.top_k)
    payload: dict[str, Any] = {"round": None, "beta": None, "rule": "optimizer"}
    if winner is not None:
        schedule = BetaSchedule.from_dict(winner.user_attrs["schedule"])
        emit({"phase": "winner", "trial": winner.number})
        data = SearchData([load_data(r) for r in search], seeds=100)
        grid = [round(0.05 * i, 10) for i in range(21)]
        curves = data.run(schedule, grid)
        gains = operating_gains(curves, cmc_reference(data))
        points = [
            {
                "model": replay.model,
                "benchmark": replay.benchmark,
                "beta": beta,
                "accuracy": 100.0 * float(curves.correct[i][f].mean()),
                "tokens": float(curves.tokens[i][f].mean()),
                "seq_tokens": float(curves.seq_tokens[i][f].mean()),
            }
            for i, beta in enumerate(grid)
            for f, replay in enumerate(data.replays)
        ]
        number = run.next_round()
        name = "opt-winner"
        provenance = {
            "trial": winner.number,
            "rule": SELECTION_RULE,
            "search": meta["optimizer"],
            "search_files": meta["search"],
            "started": meta.get("started"),
            "trials_finished": len(trials),
        }
        summary = {"round": number, "rounds": None, "name": name, "trial": winner.number,
                   "fit_objective": winner.user_attrs["fit_objective"],
                   "validation": winner.user_attrs["validation"]}  # fmt: skip
        proposal = {"kind": "optimizer", "selected_trial": winner.number, "rule": SELECTION_RULE,
                    "schedule": schedule.to_dict(), "search_gains_100_seeds": gains}  # fmt: skip
        write_candidate_round(
            run, number, schedule, name, provenance, proposal, summary, search, points
        )
        payload = {
            "round": number,
            "name": name,
            "class": run.index()[-1].get("class"),
            "beta": gains[-1]["beta"],
            "betas_at_cmc_budgets": {str(g["cmc_beta"]): g["beta"] for g in gains},
            "rule": "optimizer",
            "objective": SELECTION_RULE,
            "trial": winner.number,
            "search_gains_100_seeds": gains,
            "schedule": schedule.to_dict(),
        }
    payload["read"] = [
        {"model": e["model"], "benchmark": e["benchmark"], "sha256": e["sha256"]}
        for e in meta["search"]
    ]
    run.write_json("selection.json", payload)
    emit({"phase": "select", "selection": payload})
