"""The parent's side of a forwarded session: an untrusted controller file, run in
sandboxed workers, reading a session that lives in this process.

The episode stays here — a live model server's (:mod:`autotts.live.runtime`) or any
other :class:`~autotts.env.session.Session` — and the worker sees only what each read
returns (:mod:`autotts.sandbox.live_session`). For every line the worker sends, this
side checks that it is one of the session's three reads with a plain integer branch
(anything else rejects the candidate), makes the read on the real session, counts it
against the episode's step limit and replies with the value and the session's counters;
the final answer must be a bounded string or None. A failure of the candidate is a
:class:`~autotts.errors.CandidateRejected`, and any error of the session itself (an
upstream failure, a closed episode, the step limit) ends the worker and is raised as is.

:class:`ControllerPool` keeps a few loaded workers, so a request pays one pipe round trip
per read, not a process start: against the local replay-server, CMC as a file answered in
the same time per request sandboxed as in process (within noise: 2.3-3.2 s for ~470
upstream requests, two runs), while a fresh worker per request added 0.6-1.6 s
(``benchmarks/serve_overhead.py``). Over a replay session a read's round trip costs
about 0.2 ms wall.
"""

from __future__ import annotations

import threading
import weakref
from typing import Any

from autotts.controllers.base import Controller
from autotts.env.limits import DEFAULT_MAX_STEPS, step_limit_error
from autotts.errors import CandidateRejected, InvalidAction, NoMoreBranches
from autotts.sandbox.candidate import CandidateFile
from autotts.sandbox.client import SandboxWorker
from autotts.sandbox.layers import SandboxLimits

__all__ = ["ControllerPool", "SandboxedController", "SessionWorker"]

#: Trace steps taken from a worker's answer at most, and the length kept of their labels.
MAX_TRACE_STEPS = 2000
_LABEL_CHARS = 200


class SessionWorker(SandboxWorker):
    """A sandboxed worker that runs episodes over sessions held by this process."""

    def __init__(self, limits: SandboxLimits | None = None) -> None:
        super().__init__(limits)
        #: episodes this worker has finished
        self.episodes = 0
        #: the ``(beta, params)`` its controller was last built with
        self.built: tuple[float | None, str] | None = None

    def solve(self, session: Any, *, max_steps: int = DEFAULT_MAX_STEPS) -> str | None:
        """One episode of the loaded controller over ``session``; its answer."""
        self._write(
            {
                "op": "session",
                "probe_freq": int(session.probe_freq),
                "opened": int(session.branches_opened),
                "cost": float(session.tokens_used),
                "can": bool(session.can_branch),
                "tracing": bool(session.tracing),
            }
        )
        calls = 0
        while True:
            message = self._read()
            call = message.get("call")
            if call is not None:
                calls += 1
                if calls > max_steps:
                    self._kill()
                    raise step_limit_error(max_steps)
                self._write(self._perform(session, call, message))
                continue
            if message.get("ok") is False:
                self._reject(message, 0, trace=bool(session.tracing), op="session")
            if message.get("ok") is not True or set(message) - {"ok", "answer", "trace"}:
                raise self._malformed("a malformed message")
            answer = message.get("answer")
            if answer is not None and type(answer) is not str:
                self._kill()
                raise CandidateRejected(
                    "bad-return", f"returned {type(answer).__name__}; must be a str or None"
                )
            if answer is not None and len(answer) > self.limits.max_answer_chars:
                self._kill()
                raise CandidateRejected(
                    "bad-return",
                    f"answer of {len(answer)} characters (at most {self.limits.max_answer_chars})",
                )
            if session.tracing:
                _copy_trace(message.get("trace"), session)
            self.episodes += 1
            return answer

    def _perform(self, session: Any, call: Any, message: dict[str, Any]) -> dict[str, Any]:
        """Make the read the worker asked for; the reply line (value or refusal)."""
        value: Any
        read = -1  # the branch this call read (its confidence goes with the reply)
        try:
            if call == "probe_new":
                answer, branch, finished = session.probe_new()
                value = [str(answer), int(branch), bool(finished)]
                read = int(branch)
            elif call == "probe_more":
                branch = message.get("branch")
                # The worker's session sends plain ints only: anything else is not its code.
                if type(branch) is not int or set(message) != {"call", "branch"}:
                    raise self._malformed("a malformed probe_more call")
                answer, finished = session.probe_more(branch)
                value = [str(answer), bool(finished)]
                read = branch
            elif call == "full_read" and set(message) == {"call"}:
                value = str(session.full_read())
            else:
                raise self._malformed(f"an unknown session call {str(call)[:40]!r}")
        except NoMoreBranches as exc:
            return self._counters(session, {"e": "no-more-branches", "m": str(exc)[:500]})
        except InvalidAction as exc:  # the controller may catch it, as in this process
            return self._counters(session, {"e": "invalid-action", "m": str(exc)[:500]})
        reply: dict[str, Any] = {"r": value}
        confidence = _confidence(session, read)
        if confidence is not None:  # only data with confidences adds it: replies stay as they were
            reply["f"] = confidence
        return self._counters(session, reply)

    def _read(self) -> dict[str, Any]:
        # A line nested deeper than the JSON parser's recursion limit is the worker's doing
        # too: a rejection, never an error of this process (the session's caller is a server).
        try:
            return super()._read()
        except RecursionError:
            self._kill()
            raise CandidateRejected("cheating", "the worker sent malformed data") from None

    @staticmethod
    def _counters(session: Any, reply: dict[str, Any]) -> dict[str, Any]:
        reply["n"] = int(session.branches_opened)
        reply["c"] = float(session.tokens_used)
        reply["b"] = bool(session.can_branch)
        return reply

    def _malformed(self, what: str) -> CandidateRejected:
        self._kill()
        return CandidateRejected("cheating", f"the worker sent {what}")


def _confidence(session: Any, branch: int) -> float | None:
    """The confidence of the read of ``branch`` just made (``None``: none, a full read, or
    a session without :meth:`~autotts.env.session.Session.probe_confidence`)."""
    ask = getattr(session, "probe_confidence", None)
    if branch < 0 or ask is None:
        return None
    value = ask(branch)
    return None if value is None else float(value)


def _copy_trace(steps: Any, session: Any) -> None:
    """The worker's trace steps into ``session``'s trace, labels as short strings."""
    if not isinstance(steps, list):
        return
    for step in steps[-MAX_TRACE_STEPS:]:
        if not isinstance(step, dict):
            continue
        session.trace(
            str(step.get("event", ""))[:_LABEL_CHARS],
            goal=str(step.get("goal", ""))[:_LABEL_CHARS],
            input=step.get("input"),
            output=step.get("output"),
            state=step.get("state"),
            decision=str(step.get("decision", ""))[:_LABEL_CHARS],
        )


class ControllerPool:
    """Loaded sandboxed workers of one controller file, kept between episodes.

    At most ``keep`` idle workers are kept; one is retired after ``max_episodes``
    episodes, or once half its ``limits.total_seconds`` have passed (the worker's whole
    life is bounded by that limit and its CPU seconds, so a long-running server starts
    fresh ones). Thread-safe: concurrent episodes take different workers.
    """

    def __init__(
        self,
        candidate: CandidateFile,
        limits: SandboxLimits | None = None,
        *,
        keep: int = 4,
        max_episodes: int = 500,
    ) -> None:
        self.candidate = candidate
        self.limits = limits or SandboxLimits()
        self.keep = keep
        self.max_episodes = max_episodes
        self._idle: list[SessionWorker] = []
        self._lock = threading.Lock()
        self._closed = False
        #: the controller class's name in the file (known once a worker has loaded it)
        self.class_name = candidate.class_name or "controller"
        # Workers still idle when the pool is dropped or the interpreter exits are stopped.
        self._finalizer = weakref.finalize(self, _close_all, self._idle)

    def build(self, beta: float | None, params: dict[str, Any] | None = None) -> dict[str, Any]:
        """Load the file and build its controller in a worker (kept for later episodes);
        the controller's parameters. A file that fails to load or build raises here."""
        worker = self._take()
        try:
            built = self._build(worker, beta, params or {})
        except BaseException:
            worker.close()
            raise
        self._give(worker)
        return built

    def solve(
        self,
        session: Any,
        beta: float | None,
        params: dict[str, Any] | None = None,
        *,
        fresh: bool = False,
        max_steps: int = DEFAULT_MAX_STEPS,
    ) -> str | None:
        """One episode over ``session`` in a worker; ``fresh`` builds the controller anew
        for it (as ``serve`` builds one per request in process), else a worker reuses
        the controller it built with the same β and parameters."""
        worker = self._take()
        try:
            if fresh or worker.built != (beta, repr(sorted((params or {}).items()))):
                self._build(worker, beta, params or {})
            answer = worker.solve(session, max_steps=max_steps)
        except BaseException:
            # Mid-episode (an upstream error, a timeout, a rejection): its state is unknown.
            worker.close()
            raise
        self._give(worker)
        return answer

    def close(self) -> None:
        with self._lock:
            self._closed = True
        self._finalizer()

    def _build(
        self, worker: SessionWorker, beta: float | None, params: dict[str, Any]
    ) -> dict[str, Any]:
        built = worker.build(beta, params)
        worker.built = (beta, repr(sorted(params.items())))
        return built

    def _take(self) -> SessionWorker:
        with self._lock:
            if self._closed:
                raise CandidateRejected("crash", "the controller's workers were closed")
            while self._idle:
                worker = self._idle.pop()
                if worker.alive and not self._retired(worker):
                    return worker
                worker.close()
        worker = SessionWorker(self.limits)
        try:
            path = self.candidate.path
            worker.load(self.candidate.source, str(path), self.candidate.class_name)
            self.class_name = worker.class_name
        except CandidateRejected as exc:
            worker.close()
            raise CandidateRejected(exc.reason, f"{path}: {exc.detail}") from None
        except BaseException:
            worker.close()
            raise
        return worker

    def _give(self, worker: SessionWorker) -> None:
        with self._lock:
            if not self._closed and len(self._idle) < self.keep and not self._retired(worker):
                self._idle.append(worker)
                return
        worker.close()

    def _retired(self, worker: SessionWorker) -> bool:
        return (
            worker.episodes >= self.max_episodes
            or worker.age_seconds > self.limits.total_seconds / 2
        )


def _close_all(workers: list[SessionWorker]) -> None:
    while workers:
        workers.pop().close()


class SandboxedController(Controller):
    """An untrusted controller file's controller: each :meth:`solve` runs in a sandboxed
    worker of a :class:`ControllerPool` over the session given, which stays here.

    What ``autotts.build(ControllerSpec("file.py:Class"))`` returns for a file not marked
    ``trusted``: it runs unchanged wherever a controller is expected (replay sessions, the
    live runtime), at the cost of one round trip to the worker per session read. For
    whole evaluations the sandboxed evaluator (``autotts.evaluate``/``EvalJob``) is much
    faster: it sends the episodes as data and replays the worker's logs.
    """

    name = "sandboxed"

    def __init__(
        self,
        pool: ControllerPool,
        beta: float | None,
        params: dict[str, Any] | None,
        built: dict[str, Any],
        *,
        fresh: bool = False,
        max_steps: int = DEFAULT_MAX_STEPS,
    ) -> None:
        self._pool = pool
        self._beta = beta
        self._settings = dict(params or {})
        self._built = dict(built)
        self._fresh = fresh
        self._max_steps = max_steps

    @property
    def class_name(self) -> str:
        """The controller class's name in the file."""
        return self._pool.class_name

    @classmethod
    def start(
        cls,
        candidate: CandidateFile,
        beta: float | None,
        params: dict[str, Any] | None = None,
        limits: SandboxLimits | None = None,
    ) -> SandboxedController:
        """Load and build ``candidate`` in a worker of its own pool (errors raise here)."""
        pool = ControllerPool(candidate, limits, keep=1)
        built = pool.build(beta, params)
        return cls(pool, beta, params, built)

    def solve(self, session: Any) -> str | None:
        return self._pool.solve(
            session, self._beta, self._settings, fresh=self._fresh, max_steps=self._max_steps
        )

    def params(self) -> dict[str, Any]:
        return dict(self._built)

    def close(self) -> None:
        """Stop the pool's workers (also done when the controller is garbage-collected)."""
        self._pool.close()
