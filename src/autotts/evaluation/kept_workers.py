"""One sandboxed worker kept per process and interpreter, for all the cells of the
candidate it runs.

A discovery round evaluates one candidate file on 11 β × 4 files. Starting a
sandboxed worker for each of those cells (bubblewrap, an interpreter, the imports,
the seccomp filter) and sending it a file's questions again costs about half a
second a cell. While keeping is on (:func:`keeping_workers`), a process keeps the
worker of the last candidate it ran (one per interpreter: a PyPy cell's CPython
agreement sample, :mod:`~autotts.evaluation.interpreters`, keeps a CPython worker
beside the PyPy one), and every cell of that candidate:

* loads the file again, in a fresh module: the worker keeps its imports and the
  question data it was sent, never the candidate's module-level state, so a cell's
  numbers do not depend on which cells ran before it in the same worker;
* sends a file's questions only the first time that worker sees the file;
* starts on a fresh worker when the kept one has used half of its life's wall-clock
  or CPU budget (:class:`~autotts.sandbox.SandboxLimits` bounds a worker's life);
* after *any* rejection in a reused worker, runs again in a fresh worker, so a
  verdict is always the one a fresh worker per cell gives: a budget spent by earlier
  cells, or state an earlier cell left in an imported module, can never reject a
  candidate that a fresh worker accepts.

Keeping is off by default, so a plain :func:`~autotts.evaluation.jobs.evaluate`
leaves no process behind; :func:`~autotts.evaluation.jobs.run_jobs` turns it on for
its own duration and in its pool processes.

The audit's shadow replays (:mod:`~autotts.evaluation.audit`) get a kept worker of their
own, apart from the one that plays the real cells, under a stricter rule
(:func:`run_shadow`): it serves audits only while it is *fresh* for the data it is
given — it has never been sent a shadow of a file that shares a branch (a recorded
trajectory) with the audited file — so it audits at most one cell per data file. A discovery round's
audits take turns over its four files, so one shadow worker serves several of them,
where each used to start a worker of its own (most of an audit's cost).
"""

from __future__ import annotations

import atexit
import contextlib
import multiprocessing.util
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from autotts.data.records import ReplaySet
from autotts.errors import CandidateRejected
from autotts.evaluation.protocols import EvaluationProtocol
from autotts.evaluation.sandboxed import SandboxRun, run_in_sandbox
from autotts.sandbox import CandidateFile, SandboxLimits, SandboxWorker
from autotts.sandbox.renaming import AnswerRenaming

__all__ = ["close_kept", "keeping", "keeping_workers", "kept_now", "run_kept", "run_shadow"]


@dataclass
class _Kept:
    key: tuple[str, str, str | None, SandboxLimits]
    worker: SandboxWorker
    #: a shadow worker's: fingerprints of every real branch whose file it was sent a shadow of
    seen: set[int] = field(default_factory=set)


#: "depth": how many keeping_workers blocks are open (one more while kept for the process's
#: life, "for_life"); "kept": interpreter -> its kept worker; "shadows": interpreter -> its
#: kept shadow worker (run_shadow)
_state: dict[str, Any] = {"depth": 0, "kept": {}, "shadows": {}, "for_life": False}


def keeping() -> bool:
    """Whether sandboxed cells in this process reuse a kept worker now."""
    return bool(_state["depth"])


@contextlib.contextmanager
def keeping_workers() -> Iterator[None]:
    """Within the block, sandboxed cells reuse one kept worker; it is closed on leaving."""
    _state["depth"] += 1
    try:
        yield
    finally:
        _state["depth"] -= 1
        if not _state["depth"]:
            close_kept()


def keep_for_process_life() -> None:
    """Turn keeping on until this process exits (pool processes, Ray workers); the workers
    are closed then. Calling it again changes nothing."""
    if _state.get("for_life"):
        return
    _state["for_life"] = True
    _state["depth"] += 1
    # A pool process ends through multiprocessing, which runs its finalizers, not atexit.
    multiprocessing.util.Finalize(None, close_kept, exitpriority=10)


def kept_now() -> list[SandboxWorker]:
    """The workers kept at this moment (one per interpreter at most, and one shadow worker
    per interpreter at most)."""
    return [kept.worker for kept in [*_state["kept"].values(), *_state["shadows"].values()]]


def close_kept(interpreter: str | None = None) -> None:
    """Stop the kept worker of ``interpreter``, or every kept worker (shadow workers too)."""
    kept: dict[str, _Kept] = _state["kept"]
    for name in [interpreter] if interpreter is not None else list(kept):
        gone = kept.pop(name, None)
        if gone is not None:
            gone.worker.close()
    if interpreter is None:
        for name in list(_state["shadows"]):
            _close_shadow(name)


def _close_shadow(interpreter: str) -> None:
    gone = _state["shadows"].pop(interpreter, None)
    if gone is not None:
        gone.worker.close()


atexit.register(close_kept)


def run_kept(
    candidate: CandidateFile,
    replay: ReplaySet,
    protocol: EvaluationProtocol,
    *,
    beta: float | None,
    params: dict[str, Any] | None = None,
    progress: Callable[[int, int], None] | None = None,
    max_steps: int | None = None,
    limits: SandboxLimits | None = None,
    keep_logs: bool = False,
) -> SandboxRun:
    """:func:`~autotts.evaluation.sandboxed.run_in_sandbox` on the kept worker (see above);
    a worker is kept for one candidate file and one set of ``limits``."""
    limits = limits or SandboxLimits()
    key = (str(candidate.path), candidate.sha256, candidate.class_name, limits)
    for attempt in (0, 1):
        worker, reused = _worker_for(key, limits, fresh=attempt > 0)
        try:
            try:
                worker.load(candidate.source, str(candidate.path), candidate.class_name)
            except CandidateRejected as exc:
                raise CandidateRejected(exc.reason, f"{candidate.path}: {exc.detail}") from None
            return run_in_sandbox(
                candidate,
                replay,
                protocol,
                beta=beta,
                params=params,
                progress=progress,
                worker=worker,
                max_steps=max_steps,
                keep_logs=keep_logs,
            )
        except CandidateRejected:
            close_kept(limits.interpreter)
            if not reused:
                raise
        except BaseException:
            close_kept(limits.interpreter)  # interrupted mid-run: the worker's state is unknown
            raise
    raise AssertionError("unreachable: the second attempt runs on a fresh worker")


def _worker_for(
    key: tuple[str, str, str | None, SandboxLimits], limits: SandboxLimits, *, fresh: bool
) -> tuple[SandboxWorker, bool]:
    """The kept worker for ``key`` and whether it ran cells before; a new one if needed."""
    kept: _Kept | None = _state["kept"].get(limits.interpreter)
    if kept is not None and (fresh or kept.key != key or not _has_budget(kept.worker)):
        close_kept(limits.interpreter)
        kept = None
    if kept is not None:
        return kept.worker, True
    worker = SandboxWorker(limits)
    _state["kept"][limits.interpreter] = _Kept(key, worker)
    return worker, False


def _has_budget(worker: SandboxWorker) -> bool:
    limits = worker.limits
    return (
        worker.alive
        and worker.age_seconds < limits.total_seconds / 2
        and worker.reported_cpu_seconds < limits.cpu_seconds / 2
    )


def run_shadow(
    candidate: CandidateFile,
    shadow: ReplaySet,
    protocol: EvaluationProtocol,
    *,
    questions: frozenset[int],
    judge: Callable[[SandboxRun], None],
    beta: float | None,
    params: dict[str, Any] | None,
    max_steps: int | None,
    limits: SandboxLimits,
    renaming: AnswerRenaming,
) -> SandboxRun:
    """Play ``shadow`` (an audit's data) in a worker that was never sent a version of any of
    ``questions`` (fingerprints of the real file's branches,
    :func:`~autotts.sandbox.shadow.branch_fingerprints`), then ``judge`` it (it raises
    :class:`CandidateRejected` on a difference from the real play).

    While keeping is on, that is the kept shadow worker when it is fresh for
    ``questions`` — it has only ever played shadows, of other files — and has budget
    left; else a new one, kept in its place. Its memory then holds nothing of this file
    that could make a controller's play agree with the real one (the audit's soundness,
    :mod:`~autotts.evaluation.audit`). A rejection or a difference in a reused worker
    is played again on a fresh one, whose outcome is the verdict: no verdict depends on
    the audits a worker ran before. Without keeping, every call starts and closes its
    own worker.
    """
    settings: dict[str, Any] = {
        "beta": beta,
        "params": params,
        "max_steps": max_steps,
        "keep_logs": True,
        "renaming": renaming,
    }
    if not keeping():
        run = run_in_sandbox(candidate, shadow, protocol, limits=limits, **settings)
        judge(run)
        return run
    key = (str(candidate.path), candidate.sha256, candidate.class_name, limits)
    for attempt in (0, 1):
        kept: _Kept | None = _state["shadows"].get(limits.interpreter)
        reused = (
            attempt == 0
            and kept is not None
            and kept.key == key
            and kept.seen.isdisjoint(questions)
            and _has_budget(kept.worker)
        )
        if not reused:
            _close_shadow(limits.interpreter)
            kept = _Kept(key, SandboxWorker(limits))
            _state["shadows"][limits.interpreter] = kept
        assert kept is not None
        # Counted as held from now on, even if the run fails half-way.
        kept.seen |= questions
        try:
            try:
                kept.worker.load(candidate.source, str(candidate.path), candidate.class_name)
            except CandidateRejected as exc:
                raise CandidateRejected(exc.reason, f"{candidate.path}: {exc.detail}") from None
            run = run_in_sandbox(candidate, shadow, protocol, worker=kept.worker, **settings)
            judge(run)
            return run
        except CandidateRejected:
            _close_shadow(limits.interpreter)
            if not reused:
                raise
        except BaseException:
            _close_shadow(limits.interpreter)  # interrupted mid-run: its state is unknown
            raise
    raise AssertionError("unreachable: the second attempt runs on a fresh worker")
