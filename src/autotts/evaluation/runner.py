"""Replay a controller over every episode of a protocol and score it.

Two paths give identical numbers: built-in controllers replay whole batches of
episodes through their vectorised implementation; any other controller (and any
run that records traces) goes episode by episode through a
:class:`~autotts.env.session.Session`. Scoring happens here, against gold answers
the controller never sees.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from autotts.controllers.base import Controller
from autotts.data.records import NO_ANSWER, ReplaySet
from autotts.env.batch import EpisodeBatch
from autotts.env.episode import Episode
from autotts.env.fast_session import FastSession
from autotts.env.limits import DEFAULT_MAX_STEPS, StepLimitedSession
from autotts.env.session import TraceStep
from autotts.env.tracing import TracingSession
from autotts.errors import AutoTTSError, ControllerError
from autotts.evaluation.protocols import EvaluationProtocol

__all__ = ["EpisodeTable", "close_trace", "crashed_record", "run_episodes"]

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

#: Called once per finished episode with ``(replicate, question, trace)``.
TraceSink = Callable[[int, int, "EpisodeRecord"], None]


@dataclass(frozen=True)
class EpisodeRecord:
    replicate: int
    question: int
    answer: str | None
    correct: bool
    cost: float
    sequential_cost: float
    trace: list[TraceStep]
    #: set on the record of an episode whose controller crashed (its partial trace)
    error: str | None = None


@dataclass(frozen=True)
class EpisodeTable:
    """Per (replicate, question): correct, tokens charged, tokens of the longest branch."""

    correct: BoolArray
    cost: FloatArray
    sequential_cost: FloatArray


def run_episodes(
    controller: Controller,
    replay: ReplaySet,
    protocol: EvaluationProtocol,
    *,
    trace_sink: TraceSink | None = None,
    vectorised: bool = True,
    progress: Callable[[int, int], None] | None = None,
    max_steps: int = DEFAULT_MAX_STEPS,
    fast: bool = True,
) -> EpisodeTable:
    """Replay ``controller`` on every (replicate, question) episode of ``protocol``.

    ``progress(done, total)`` is called as episodes finish on the episode-by-episode path.
    That path runs untraced episodes through a :class:`FastSession` (identical numbers
    and errors); ``fast=False`` keeps :class:`Episode` + :class:`StepLimitedSession`
    (for equality tests and benchmarks). Traced episodes always take the latter.
    There an episode may make at most ``max_steps`` session read calls. A controller
    that raises (or exceeds the limit) ends the run with a :class:`ControllerError`
    naming the episode and the line of the controller's code; with a ``trace_sink``,
    the crashed episode's partial trace is handed to it first, with ``error`` set.
    """
    shape = (protocol.replicates, len(replay))
    correct = np.zeros(shape, dtype=bool)
    cost = np.zeros(shape)
    seq = np.zeros(shape)
    kernel = controller.vectorised() if vectorised and trace_sink is None else None

    # Questions with equally many branches share a batch (the public files: all of them).
    groups: dict[int, list[int]] = {}
    for q, question in enumerate(replay.questions):
        groups.setdefault(question.n_branches, []).append(q)
    done, total = 0, protocol.replicates * len(replay)
    for n_branches, members in groups.items():
        orders = np.stack([protocol.orders(n_branches, q) for q in members], axis=1)
        if kernel is not None:
            batch, question_of = EpisodeBatch.replicated(replay, members, orders)
            out = kernel(batch)
            gold = replay.gold_ids[question_of]
            hit = (out.answer == gold) & (out.answer != NO_ANSWER)
            correct[:, members] = hit.reshape(orders.shape[:2])
            cost[:, members] = out.cost.reshape(orders.shape[:2])
            seq[:, members] = out.sequential_cost.reshape(orders.shape[:2])
            continue
        for r in range(protocol.replicates):
            for i, q in enumerate(members):
                if fast and trace_sink is None:
                    correct[r, q], cost[r, q], seq[r, q] = _solve_fast(
                        controller, replay, r, q, orders[r, i], max_steps
                    )
                    continue
                try:
                    record = _solve_one(
                        controller, replay, r, q, orders[r, i], trace_sink is not None, max_steps
                    )
                except _EpisodeCrashed as crash:
                    if trace_sink is not None:
                        trace_sink(r, q, crash.record)
                    raise crash.error from crash.__cause__
                correct[r, q], cost[r, q], seq[r, q] = (
                    record.correct,
                    record.cost,
                    record.sequential_cost,
                )
                if trace_sink is not None:
                    trace_sink(r, q, record)
            done += len(members)
            if progress is not None:
                progress(done, total)
    return EpisodeTable(correct=correct, cost=cost, sequential_cost=seq)


def _solve_fast(
    controller: Controller,
    replay: ReplaySet,
    replicate: int,
    q: int,
    order: Any,
    max_steps: int,
) -> tuple[bool, float, float]:
    """One untraced episode through a :class:`FastSession`: ``(correct, cost, sequential)``."""
    session = FastSession(replay.questions[q], order.tolist(), max_steps=max_steps)
    try:
        answer = controller.solve(session)
    except Exception as exc:
        raise ControllerError(_crash_message(controller, exc, q, replicate)) from exc
    if answer is not None and not isinstance(answer, str):
        raise ControllerError(_bad_return(controller, answer, q))
    charges = session.charges()
    return replay.is_correct(q, answer), float(sum(charges)), max(charges, default=0.0)


def _bad_return(controller: Controller, answer: object, q: int) -> str:
    return (
        f"{_name(controller)} returned {type(answer).__name__} on question {q}; "
        "solve() must return a str or None"
    )


def _solve_one(
    controller: Controller,
    replay: ReplaySet,
    replicate: int,
    q: int,
    order: Any,
    tracing: bool,
    max_steps: int = DEFAULT_MAX_STEPS,
) -> EpisodeRecord:
    episode = Episode(replay.questions[q], order.tolist())
    steps: list[TraceStep] | None = None
    if tracing:
        steps = [
            {
                "event": "start",
                "goal": f"solve question {q} with {controller.name}",
                "input": {"question": q, "replicate": replicate},
                "output": None,
                "state": {"pool_size": episode.pool_size, "params": controller.params()},
                "decision": "controller starts",
            }
        ]
    # Traced runs get a session that records every read; untraced ones pay nothing for it.
    session = (
        StepLimitedSession(episode, max_steps=max_steps)
        if steps is None
        else TracingSession(episode, steps, max_steps=max_steps)
    )
    try:
        answer = controller.solve(session)
    except Exception as exc:
        error = ControllerError(_crash_message(controller, exc, q, replicate))
        if steps is None:
            raise error from exc
        record = crashed_record(episode, replicate, q, steps, str(error))
        raise _EpisodeCrashed(error, record) from exc
    if answer is not None and not isinstance(answer, str):
        raise ControllerError(_bad_return(controller, answer, q))
    correct = replay.is_correct(q, answer)
    if steps is not None:
        close_trace(steps, answer, episode, gold=replay.gold[q], correct=correct)
    return EpisodeRecord(
        replicate=replicate,
        question=q,
        answer=answer,
        correct=correct,
        cost=float(episode.cost),
        sequential_cost=float(episode.sequential_cost),
        trace=steps or [],
    )


class _EpisodeCrashed(Exception):
    """Carries a crashed episode's partial record out of :func:`_solve_one`."""

    def __init__(self, error: ControllerError, record: EpisodeRecord) -> None:
        super().__init__(str(error))
        self.error = error
        self.record = record


def _name(controller: Controller) -> str:
    """The controller's ``name``; a class that kept the base class's placeholder goes by
    its class name."""
    return controller.name if controller.name != Controller.name else type(controller).__name__


def _crash_message(controller: Controller, exc: Exception, q: int, replicate: int) -> str:
    """One line: which controller, which episode, where in its code, and what."""
    episode = f"question {q} (replicate {replicate}){_where(exc, controller)}"
    if isinstance(exc, AutoTTSError):  # an illegal action or the step limit: say it as is
        return f"{_name(controller)} on {episode}: {exc}"
    return f"{_name(controller)} crashed on {episode}: {type(exc).__name__}: {exc}"


def crashed_record(
    episode: Episode, replicate: int, q: int, steps: list[TraceStep], error: str
) -> EpisodeRecord:
    """The partial record of a crashed episode: its trace so far, closed by an error step."""
    steps.append(
        {
            "event": "error",
            "goal": "",
            "input": None,
            "output": {"error": error, "tokens": episode.cost},
            "state": {"branches_opened": episode.opened},
            "decision": "controller raised",
        }
    )
    return EpisodeRecord(
        replicate,
        q,
        answer=None,
        correct=False,
        cost=float(episode.cost),
        sequential_cost=float(episode.sequential_cost),
        trace=steps,
        error=error,
    )


def _where(exc: BaseException, controller: Controller) -> str:
    """`` at file:line`` of the innermost frame in the controller's own source file; when
    that frame is a helper called from the file, also the function and the calling line."""
    try:
        source = inspect.getsourcefile(type(controller))
    except TypeError:
        source = None
    if source is None:
        return ""
    own = Path(source).resolve()
    frames = []
    tb = exc.__traceback__
    while tb is not None:
        code = tb.tb_frame.f_code
        if Path(code.co_filename).resolve() == own:
            frames.append((tb.tb_lineno, code.co_name))
        tb = tb.tb_next
    if not frames:
        return ""
    line, function = frames[-1]
    text = f" at {source}:{line}"
    if len(frames) > 1:
        text += f" (in {function}, called from {source}:{frames[-2][0]})"
    return text


def close_trace(
    steps: list[TraceStep],
    answer: str | None,
    episode: Episode,
    *,
    gold: str | None = None,
    correct: bool | None = None,
) -> None:
    """End the trace with exactly one ``finish`` step, written here from the evaluator's
    own accounts (``episode``), with the gold answer and the verdict when given.

    A controller may record its own ``finish`` (say, with a ``stop_reason``); its
    output fields and its decision are kept in the evaluator's ``finish`` and the step itself is
    dropped, so every return path yields one ``finish``, last.
    """
    extra: dict[str, Any] = {}
    decision = "controller returned"
    kept = []
    for step in steps:
        if step.get("event") == "finish":
            if isinstance(step.get("output"), dict):
                extra.update(step["output"])
            if step.get("decision"):  # the controller's own account of why it stopped
                decision = str(step["decision"])
        else:
            kept.append(step)
    steps[:] = kept
    steps.append(
        {
            "event": "finish",
            "goal": "return final answer",
            "input": None,
            "output": {
                **extra,
                "answer": answer,
                "tokens": episode.cost,
                "sequential_tokens": episode.sequential_cost,
            },
            "state": {"branches_opened": episode.opened},
            "decision": decision,
        }
    )
    if correct is not None:  # added after the controller is done: it never sees the gold
        steps[-1]["output"].update(gold=gold, correct=correct)
