"""Worker processes filling one Optuna study until a deadline, a stop file or Ctrl-C.

Both users of the optimiser run trials this way: ``autotts optimize`` (one unit of
its pre-registered study at a time, :mod:`.driver`) and the optimiser proposer of
the discovery loop (a slice of search before each proposal,
:mod:`autotts.discovery.proposers.optimizer`). The caller's ``tick`` runs every
``poll`` seconds while the workers run; it writes what the caller keeps and may
return a reason to stop early.
"""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from autotts.discovery.optimizer.space import cmc_start
from autotts.discovery.optimizer.worker import OptimizerSettings, worker_main
from autotts.evaluation.jobs import DataRef
from autotts.extras import needs

__all__ = ["fail_stale", "run_trials"]

#: ``tick(elapsed seconds)`` → a reason to stop the workers early, or None.
Tick = Callable[[float], str | None]


def run_trials(
    study: Any,
    study_name: str,
    journal: Path,
    settings: OptimizerSettings,
    search: list[DataRef],
    budget: float,
    stop_file: Path,
    tick: Tick,
    *,
    start: dict[str, Any] | None = None,
    poll: float = 2.0,
    from_ready: bool = False,
) -> tuple[str | None, float]:
    """Run ``settings.workers`` worker processes on ``study`` for ``budget`` seconds
    (with ``from_ready``: ``budget`` seconds of trials once each worker has started).

    Returns the reason ``tick`` gave for stopping early (None: the budget ran out)
    and the seconds spent. On Ctrl-C the workers are stopped and joined before the
    interrupt propagates, so every finished trial is in the journal.
    """
    deadline = time.time() + budget
    refs = [(r.store, r.model, r.benchmark) for r in search]
    if not study.trials:
        # queued here, before any worker exists: queued by a worker, another worker could
        # sample the first trial and the start would never run
        first = start or cmc_start()
        study.enqueue_trial({k: v for k, v in first.items() if k not in settings.fixed_parts})
    # spawned, not forked: a worker imports Optuna and NumPy afresh and shares no lock or
    # thread with a parent that may be running a process pool of its own
    ctx = multiprocessing.get_context("spawn")
    common = (str(stop_file), study_name, budget if from_ready else None)
    workers = [
        ctx.Process(
            target=worker_main,
            args=(str(journal), refs, settings.to_dict(), w, deadline, *common),
            daemon=True,
        )
        for w in range(settings.workers)
    ]
    for proc in workers:
        proc.start()
    started = time.monotonic()
    reason: str | None = None
    try:
        while any(p.is_alive() for p in workers):
            time.sleep(poll)
            why = tick(time.monotonic() - started)
            if why is not None and reason is None and not stop_file.exists():
                stop_file.touch()
                reason = why
    except KeyboardInterrupt:
        stop_file.touch()
        _join(workers)
        raise
    _join(workers)
    return reason, time.monotonic() - started


def fail_stale(study: Any) -> None:
    """Trials left RUNNING by a killed run will never finish: mark them failed."""
    with needs("optimize", "the optimizer"):
        from optuna.trial import TrialState

    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        study._storage.set_trial_state_values(trial._trial_id, TrialState.FAIL)


def _join(workers: list[Any]) -> None:
    for proc in workers:
        proc.join(timeout=60)
        if proc.is_alive():
            proc.terminate()
            proc.join(timeout=10)
