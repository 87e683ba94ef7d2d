"""One sandboxed worker kept per keeping block and interpreter, for all the cells of the
candidate it runs: :class:`KeptWorkers`.

A discovery round evaluates one candidate file on 11 β × 4 files. Starting a
sandboxed worker for each of those cells (bubblewrap, an interpreter, the imports,
the seccomp filter) and sending it a file's questions again costs about half a
second a cell. Within a keeping block (:func:`~autotts.evaluation.keeping.keeping_workers`,
whose :class:`KeptWorkers` the calls that run cells are given), the process keeps the
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
leaves no process behind; :func:`~autotts.evaluation.executors.run_jobs` opens a block for
its own duration and in its pool processes (:mod:`~autotts.evaluation.keeping`).

The audit's shadow replays (:mod:`~autotts.evaluation.audit`) get a kept worker of their
own, apart from the one that plays the real cells, under a stricter rule
(:func:`run_shadow`): it serves audits only while it is *fresh* for the data it is
given — it has never been sent a shadow of a file that shares a branch (a recorded
trajectory) with the audited file — so it audits at most one cell per data file. A discovery round's
audits take turns over its four files, so one shadow worker serves several of them,
where each used to start a worker of its own (most of an audit's cost).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from autotts.data.records import ReplaySet
from autotts.errors import CandidateRejected
from autotts.evaluation.protocols import EvaluationProtocol
from autotts.evaluation.sandboxed import SandboxRun, run_in_sandbox
from autotts.sandbox import CandidateFile, SandboxLimits, SandboxWorker
from autotts.sandbox.renaming import AnswerRenaming

__all__ = ["KeptWorkers", "run_shadow"]


@dataclass
class _Kept:
    key: tuple[str, str, str | None, SandboxLimits]
    worker: SandboxWorker
    #: a shadow worker's: fingerprints of every real branch whose file it was sent a shadow of
    seen: set[int] = field(default_factory=set)


class KeptWorkers:
    """The sandboxed workers one keeping block holds (see the module docstring): per
    interpreter, one that plays a candidate's cells and one that plays audit shadows.

    Made and closed by :func:`autotts.evaluation.keeping.keeping_workers`, and passed down
    to the calls that run cells; nothing about it lives in this module.
    """

    def __init__(self) -> None:
        #: interpreter -> the worker of the candidate whose cells it plays
        self._cells: dict[str, _Kept] = {}
        #: interpreter -> the shadow worker (run_shadow)
        self._shadows: dict[str, _Kept] = {}

    def workers(self) -> list[SandboxWorker]:
        """The workers kept at this moment (one per interpreter at most, and one shadow
        worker per interpreter at most)."""
        return [kept.worker for kept in [*self._cells.values(), *self._shadows.values()]]

    def cell_worker(self, interpreter: str) -> SandboxWorker | None:
        """The worker kept for cells on ``interpreter``, if any."""
        kept = self._cells.get(interpreter)
        return None if kept is None else kept.worker

    def close(self, interpreter: str | None = None) -> None:
        """Stop the cells' worker of ``interpreter``, or every kept worker (shadows too)."""
        for name in [interpreter] if interpreter is not None else list(self._cells):
            gone = self._cells.pop(name, None)
            if gone is not None:
                gone.worker.close()
        if interpreter is None:
            for name in list(self._shadows):
                self._close_shadow(name)

    def _close_shadow(self, interpreter: str) -> None:
        gone = self._shadows.pop(interpreter, None)
        if gone is not None:
            gone.worker.close()

    def run(
        self,
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
        """:func:`~autotts.evaluation.sandboxed.run_in_sandbox` on the kept worker (see the
        module docstring); a worker is kept for one candidate file and one set of ``limits``."""
        limits = limits or SandboxLimits()
        key = (str(candidate.path), candidate.sha256, candidate.class_name, limits)
        for attempt in (0, 1):
            worker, reused = self._worker_for(key, limits, fresh=attempt > 0)
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
                self.close(limits.interpreter)
                if not reused:
                    raise
            except BaseException:
                self.close(limits.interpreter)  # interrupted mid-run: its state is unknown
                raise
        raise AssertionError("unreachable: the second attempt runs on a fresh worker")

    def _worker_for(
        self, key: tuple[str, str, str | None, SandboxLimits], limits: SandboxLimits, *, fresh: bool
    ) -> tuple[SandboxWorker, bool]:
        """The kept worker for ``key`` and whether it ran cells before; a new one if needed."""
        kept = self._cells.get(limits.interpreter)
        if kept is not None and (fresh or kept.key != key or not _has_budget(kept.worker)):
            self.close(limits.interpreter)
            kept = None
        if kept is not None:
            return kept.worker, True
        worker = SandboxWorker(limits)
        self._cells[limits.interpreter] = _Kept(key, worker)
        return worker, False

    def run_shadow(
        self,
        candidate: CandidateFile,
        shadow: ReplaySet,
        protocol: EvaluationProtocol,
        *,
        questions: frozenset[int],
        judge: Callable[[SandboxRun], None],
        limits: SandboxLimits,
        settings: dict[str, Any],
    ) -> SandboxRun:
        """:func:`run_shadow` on the kept shadow worker while it is fresh for ``questions``."""
        key = (str(candidate.path), candidate.sha256, candidate.class_name, limits)
        for attempt in (0, 1):
            kept = self._shadows.get(limits.interpreter)
            reused = (
                attempt == 0
                and kept is not None
                and kept.key == key
                and kept.seen.isdisjoint(questions)
                and _has_budget(kept.worker)
            )
            if not reused:
                self._close_shadow(limits.interpreter)
                kept = _Kept(key, SandboxWorker(limits))
                self._shadows[limits.interpreter] = kept
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
                self._close_shadow(limits.interpreter)
                if not reused:
                    raise
            except BaseException:
                self._close_shadow(limits.interpreter)  # interrupted mid-run: state unknown
                raise
        raise AssertionError("unreachable: the second attempt runs on a fresh worker")


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
    workers: KeptWorkers | None = None,
) -> SandboxRun:
    """Play ``shadow`` (an audit's data) in a worker that was never sent a version of any of
    ``questions`` (fingerprints of the real file's branches,
    :func:`~autotts.sandbox.shadow.branch_fingerprints`), then ``judge`` it (it raises
    :class:`CandidateRejected` on a difference from the real play).

    With ``workers`` (a keeping block's), that is their shadow worker when it is fresh for
    ``questions`` — it has only ever played shadows, of other files — and has budget
    left; else a new one, kept in its place. Its memory then holds nothing of this file
    that could make a controller's play agree with the real one (the audit's soundness,
    :mod:`~autotts.evaluation.audit`). A rejection or a difference in a reused worker
    is played again on a fresh one, whose outcome is the verdict: no verdict depends on
    the audits a worker ran before. Without ``workers``, every call starts and closes
    its own worker.
    """
    settings: dict[str, Any] = {
        "beta": beta,
        "params": params,
        "max_steps": max_steps,
        "keep_logs": True,
        "renaming": renaming,
    }
    if workers is None:
        run = run_in_sandbox(candidate, shadow, protocol, limits=limits, **settings)
        judge(run)
        return run
    return workers.run_shadow(
        candidate, shadow, protocol, questions=questions, judge=judge, limits=limits,
        settings=settings,
    )  # fmt: skip
