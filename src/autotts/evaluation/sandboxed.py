"""Evaluate a controller file in the sandbox, with the evaluator keeping the accounts.

The worker gets gold-free question data and the episodes' branch orders; it returns,
per episode, an answer and an action log. This module replays every log through
its own :class:`~autotts.env.episode.Episode` (charging the tokens), scores the
answer against the gold answers only it holds, and builds the same
:class:`~autotts.evaluation.runner.EpisodeTable` the in-process runner builds,
so results are identical for an honest controller.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from autotts.data.records import ReplaySet
from autotts.env.episode import Episode
from autotts.errors import CandidateRejected, PartialEpisode
from autotts.evaluation.protocols import EvaluationProtocol
from autotts.evaluation.runner import (
    EpisodeRecord,
    EpisodeTable,
    TraceSink,
    close_trace,
    crashed_record,
)
from autotts.sandbox import (
    CandidateFile,
    SandboxLimits,
    SandboxWorker,
    decode_log,
    encode_question,
    replay_log,
)
from autotts.sandbox.payload import encode_orders
from autotts.sandbox.renaming import IDENTITY, AnswerRenaming, process_key, renaming_for
from autotts.sandbox.replay import Accounts, check_claimed_cost, check_logs

__all__ = [
    "EpisodeOutcome",
    "SandboxRun",
    "episode_list",
    "run_in_sandbox",
]


@dataclass(frozen=True)
class EpisodeOutcome:
    """One verified episode: what the worker claimed and what the parent's replay charged."""

    replicate: int
    question: int
    order: list[int]
    #: the action log; empty unless the run was asked to keep logs (``keep_logs``)
    log: list[int]
    answer: str | None
    correct: bool
    cost: float
    sequential_cost: float


@dataclass(frozen=True)
class SandboxRun:
    table: EpisodeTable
    params: dict[str, Any]
    outcomes: list[EpisodeOutcome]
    layers: list[str]
    #: CPU seconds the worker reported using (untrusted; for overhead measurements)
    worker_cpu_seconds: float = 0.0
    #: the interpreter that ran the controller ("cpython" or "pypy")
    interpreter: str = "cpython"
    #: the answer renaming the worker saw (:mod:`autotts.sandbox.renaming`)
    renaming: AnswerRenaming = IDENTITY


@functools.lru_cache(maxsize=32)
def file_renaming(replay: ReplaySet) -> AnswerRenaming:
    """The renaming of ``replay``'s answers in this process (:func:`process_key`)."""
    vocabulary = {a for question in replay.questions for a in question.answers}
    return renaming_for(vocabulary, f"{replay.name}/{replay.sha256}", process_key())


def episode_list(
    replay: ReplaySet, protocol: EvaluationProtocol
) -> list[tuple[int, int, list[int]]]:
    """Every ``(replicate, question, order)`` of ``protocol`` on ``replay``, replicate-major."""
    return _episode_list(_orders(replay, protocol), protocol.replicates)


def _orders(replay: ReplaySet, protocol: EvaluationProtocol) -> list[npt.NDArray[np.int64]]:
    """Per question, its ``[replicates, pool]`` branch orders."""
    return [protocol.orders(question.n_branches, q) for q, question in enumerate(replay.questions)]


def _episode_list(
    orders: list[npt.NDArray[np.int64]], replicates: int
) -> list[tuple[int, int, list[int]]]:
    return [(r, q, orders[q][r].tolist()) for r in range(replicates) for q in range(len(orders))]


def _flat_orders(orders: list[npt.NDArray[np.int64]], replicates: int) -> npt.NDArray[np.int64]:
    """:func:`episode_list`'s orders laid end to end, as one array."""
    rows = [orders[q][r] for r in range(replicates) for q in range(len(orders))]
    return np.concatenate(rows) if rows else np.zeros(0, dtype=np.int64)


def _wire_episodes(orders: list[npt.NDArray[np.int64]], replicates: int) -> list[tuple[int, str]]:
    """:func:`episode_list`'s ``(question, order)`` with each order as the string a compact
    run request carries (:func:`~autotts.sandbox.payload.encode_orders`)."""
    strings = [encode_orders(rows) for rows in orders]
    return [(q, strings[q][r]) for r in range(replicates) for q in range(len(orders))]


def run_in_sandbox(
    candidate: CandidateFile,
    replay: ReplaySet,
    protocol: EvaluationProtocol,
    *,
    beta: float | None,
    params: dict[str, Any] | None = None,
    trace_sink: TraceSink | None = None,
    progress: Callable[[int, int], None] | None = None,
    worker: SandboxWorker | None = None,
    max_steps: int | None = None,
    keep_logs: bool = False,
    fast: bool = True,
    limits: SandboxLimits | None = None,
    renaming: AnswerRenaming | None = None,
) -> SandboxRun:
    """Run ``candidate`` on every episode of ``protocol`` in a sandboxed worker.

    The worker sees the answers under ``renaming`` (by default this process's renaming
    of ``replay``, :func:`file_renaming`); the outcomes, traces and scores are in the
    real answers.

    Uses ``worker`` (already loaded with this candidate) when given, else starts and
    closes one. Raises :class:`CandidateRejected` on any failure of the candidate.
    The outcomes keep each episode's action log only with ``keep_logs`` (the audits
    need them; a plain evaluation does not, and they are most of its memory).
    ``limits`` are the own worker's (the default limits when not given).
    ``fast=False`` runs the worker's general session and the parent's call-by-call
    replay (same numbers and verdicts; for equality tests and benchmarks).
    """
    own = worker is None
    if worker is None:
        worker = SandboxWorker(limits)
    cpu_before = worker.reported_cpu_seconds  # a kept worker's count spans earlier cells
    try:
        if own:
            try:
                worker.load(candidate.source, str(candidate.path), candidate.class_name)
            except CandidateRejected as exc:
                raise CandidateRejected(exc.reason, f"{candidate.path}: {exc.detail}") from None
        built = worker.build(beta, params)
        names = renaming if renaming is not None else file_renaming(replay)
        key = f"{replay.model}/{replay.benchmark}/{replay.sha256}/{names.tag}"
        if not worker.has_questions(key):
            worker.send_questions(key, [encode_question(q, names) for q in replay.questions])
        orders = _orders(replay, protocol)
        episodes = _episode_list(orders, protocol.replicates)
        shape = (protocol.replicates, len(replay))
        correct = np.zeros(shape, dtype=bool)
        cost = np.zeros(shape)
        seq = np.zeros(shape)
        outcomes: list[EpisodeOutcome] = []
        # Traced episodes need the episode's own accounts for the trace, so they are
        # replayed one by one; others come with their logs as strings and are checked
        # and charged all at once.
        whole = fast and trace_sink is None
        stream = _named(
            worker.run(
                key,
                _wire_episodes(orders, protocol.replicates)
                if whole
                else [(q, order) for _, q, order in episodes],
                trace=trace_sink is not None,
                max_steps=max_steps,
                fast=fast,
                compact=whole,
            ),
            episodes,
            worker.class_name,
            replay,
            trace_sink,
            names,
            worker.limits.max_answer_chars,
        )
        check: Callable[..., Checked] = _checked_one_by_one
        if whole:
            flat = _flat_orders(orders, protocol.replicates)
            check = functools.partial(_checked_at_once, flat_orders=flat)
        limit = worker.limits.max_answer_chars
        for index, message, episode in check(stream, episodes, replay, limit, progress):
            r, q, order = episodes[index]
            answer = message.get("a")
            hit = replay.is_correct(q, answer)
            tokens, longest = episode.cost, episode.sequential_cost
            correct[r, q], cost[r, q], seq[r, q] = hit, tokens, longest
            outcomes.append(
                EpisodeOutcome(
                    r,
                    q,
                    order,
                    _log_list(message["l"]) if keep_logs else [],
                    answer,
                    hit,
                    tokens,
                    longest,
                )
            )
            if trace_sink is not None:
                assert isinstance(episode, Episode)  # traced runs replay call by call
                trace = message.get("t")
                steps = [
                    names.restore_all(s)
                    for s in (trace if isinstance(trace, list) else [])
                    if isinstance(s, dict)
                ]
                # The finish step comes from the evaluator's replay, not the worker's claims.
                close_trace(steps, answer, episode, gold=replay.gold[q], correct=hit)
                trace_sink(
                    r,
                    q,
                    EpisodeRecord(r, q, answer, hit, episode.cost, episode.sequential_cost, steps),
                )
        return SandboxRun(
            EpisodeTable(correct=correct, cost=cost, sequential_cost=seq),
            built,
            outcomes,
            list(worker.layers),
            worker.reported_cpu_seconds - cpu_before,
            worker.limits.interpreter,
            names,
        )
    except CandidateRejected:
        raise
    finally:
        if own:
            worker.close()


Checked = Iterator[tuple[int, dict[str, Any], Accounts | Episode]]


def _checked_one_by_one(
    stream: Iterator[tuple[int, dict[str, Any]]],
    episodes: list[tuple[int, int, list[int]]],
    replay: ReplaySet,
    max_answer_chars: int,
    progress: Callable[[int, int], None] | None,
) -> Checked:
    """Each episode as it comes, replayed call by call (its accounts: an :class:`Episode`)."""
    for index, message in stream:
        r, q, order = episodes[index]
        where = f"question {q} (replicate {r})"
        episode = replay_log(
            replay.questions[q],
            order,
            message["l"],
            message.get("a"),
            where=where,
            max_answer_chars=max_answer_chars,
        )
        check_claimed_cost(message.get("c"), episode.cost, where)
        yield index, message, episode
        _report(progress, index, len(episodes), len(replay))


def _checked_at_once(
    stream: Iterator[tuple[int, dict[str, Any]]],
    episodes: list[tuple[int, int, list[int]]],
    replay: ReplaySet,
    max_answer_chars: int,
    progress: Callable[[int, int], None] | None,
    *,
    flat_orders: npt.NDArray[np.int64],
) -> Checked:
    """Every episode's result first, then all checked together (:func:`check_logs`);
    ``flat_orders`` is :func:`_flat_orders` of the episodes.

    Verdicts are the one-by-one path's: episodes are judged in order, and a failure of
    the worker itself counts only after every episode it returned before it passed.
    """
    messages: list[dict[str, Any]] = []
    failure: CandidateRejected | None = None
    try:
        for index, message in stream:
            messages.append(message)
            _report(progress, index, len(episodes), len(replay))
    except CandidateRejected as exc:
        failure = exc
    logs = [message["l"] for message in messages]
    try:
        codes = decode_log("".join(logs))
    except ValueError:  # some string encodes no log: check the episodes before it first
        bad = next(e for e, log in enumerate(logs) if not _decodes(log))
        r, q, _ = episodes[bad]
        messages, logs = messages[:bad], logs[:bad]
        codes = decode_log("".join(logs))
        failure = CandidateRejected(
            "cheating", f"question {q} (replicate {r}): malformed action log"
        )
    lengths = np.fromiter(map(len, logs), dtype=np.int64, count=len(logs))
    checked = [(q, order) for _, q, order in episodes[: len(messages)]]
    accounts = check_logs(
        replay.questions,
        checked,
        codes,
        lengths,
        [message.get("a") for message in messages],
        where=lambda e: f"question {episodes[e][1]} (replicate {episodes[e][0]})",
        max_answer_chars=max_answer_chars,
        claimed_costs=[message.get("c") for message in messages],
        flat_orders=flat_orders[: sum(len(order) for _, order in checked)],
    )
    if failure is not None:
        raise failure
    ends = np.cumsum(lengths).tolist()
    for index, (message, episode) in enumerate(zip(messages, accounts)):
        # The log as a view of the decoded codes (a list only if the outcome keeps it).
        message["l"] = codes[ends[index] - len(logs[index]) : ends[index]]
        yield index, message, episode


def _log_list(log: list[int] | np.ndarray) -> list[int]:
    """An outcome's log as a list of ints, from either path's form of it."""
    return log.tolist() if isinstance(log, np.ndarray) else list(log)


def _decodes(log: str) -> bool:
    try:
        decode_log(log)
    except ValueError:
        return False
    return True


def _report(
    progress: Callable[[int, int], None] | None, index: int, total: int, per_replicate: int
) -> None:
    if progress is not None and (index + 1) % per_replicate == 0:
        progress(index + 1, total)


def _named(
    stream: Iterator[dict[str, Any]],
    episodes: list[tuple[int, int, list[int]]],
    name: str,
    replay: ReplaySet,
    trace_sink: TraceSink | None,
    renaming: AnswerRenaming,
    max_answer_chars: int,
) -> Iterator[tuple[int, dict[str, Any]]]:
    """``enumerate(stream)``, with each answer back in the real answers (``renaming``
    restored, so every check and score sees real answers) and a worker's failure message
    naming question and replicate; when tracing, the failing episode's partial trace
    goes to ``trace_sink`` first."""
    try:
        for index, message in enumerate(stream):
            answer = message.get("a")
            # Too long an answer stays as it is, for the evaluator's check to reject.
            if type(answer) is str and len(answer) <= max_answer_chars:
                message["a"] = renaming.restore(answer)
            yield index, message
    except CandidateRejected as exc:
        failed = exc.episode
        if failed is None:
            raise
        r, q, order = episodes[failed]
        verb = "crashed on" if exc.reason == "crash" else "on"
        named = CandidateRejected(
            exc.reason, f"{name} {verb} question {q} (replicate {r}): {exc.detail}"
        )
        partial = exc.partial
        if trace_sink is not None and partial is not None:
            _trace_failure(replay, r, q, order, partial, str(named), trace_sink, renaming)
        raise named from None


def _trace_failure(
    replay: ReplaySet,
    r: int,
    q: int,
    order: list[int],
    partial: PartialEpisode,
    error: str,
    trace_sink: TraceSink,
    renaming: AnswerRenaming,
) -> None:
    """Write the partial trace of a failed episode, charged by the evaluator's own replay."""
    try:
        episode = replay_log(replay.questions[q], order, partial.log, None, where="")
    except CandidateRejected:
        return  # an illegal partial log: nothing trustworthy to write
    steps = [renaming.restore_all(step) for step in partial.trace or []]
    trace_sink(r, q, crashed_record(episode, r, q, steps, error))
