"""The worker's side of a forwarded session: a controller file run against a session that
exists only in the parent.

Used when the episode cannot be sent to the worker as data: a live model server
(``autotts serve --controller FILE``, :mod:`autotts.live.runtime`), or any session a
caller of ``autotts.build`` hands an untrusted file's controller. The controller gets a
:class:`ForwardedSession` with the :class:`~autotts.env.session.Session` API; each read
is one JSON line to the parent (``{"call": ...}``) and one line back with the value.
The parent does the real read, counts and checks every call and answer
(:mod:`autotts.sandbox.live_client`); nothing this process says is believed.

Runs on the standard library and the pure-Python parts of autotts (like the rest of
the worker, also under PyPy).
"""

from __future__ import annotations

import json
from typing import Any, BinaryIO

from autotts.env.episode import slot_error
from autotts.env.session import Probe, TraceRecorder, TraceStep
from autotts.errors import InvalidAction, NoMoreBranches
from autotts.sandbox.worker_candidate import Failure, classify

__all__ = ["ForwardedSession", "solve_forwarded"]

#: Trace steps sent back at most (the last ones: a stop reason is usually recorded last).
MAX_TRACE_STEPS = 2000


class ForwardedSession(TraceRecorder):
    """A :class:`~autotts.env.session.Session` whose reads the parent performs."""

    __slots__ = (
        "_can",
        "_confidence",
        "_cost",
        "_freq",
        "_in",
        "_last",
        "_opened",
        "_out",
        "_trace",
    )

    def __init__(self, request: dict[str, Any], requests: BinaryIO, out: BinaryIO) -> None:
        self._in, self._out = requests, out
        self._freq = int(request["probe_freq"])
        self._opened = int(request["opened"])
        self._cost = float(request["cost"])
        self._can = bool(request["can"])
        self._trace: list[TraceStep] | None = [] if request.get("tracing") else None
        # Per branch, the confidence of its latest read: it comes with the read's reply
        # (``"f"``, only where there is one), so asking for it is no round trip.
        self._confidence: dict[int, float] = {}
        self._last: float | None = None

    def _call(self, message: dict[str, Any]) -> Any:
        self._out.write(json.dumps(message).encode() + b"\n")
        self._out.flush()
        line = self._in.readline()
        if not line:  # the parent ended the episode (it kills this process right after)
            raise SystemExit(0)
        reply = json.loads(line)
        self._opened, self._cost, self._can = reply["n"], reply["c"], reply["b"]
        error = reply.get("e")
        if error == "no-more-branches":
            raise NoMoreBranches(reply["m"])
        if error is not None:
            raise InvalidAction(reply["m"])
        confidence = reply.get("f")
        self._last = float(confidence) if type(confidence) in (int, float) else None
        return reply["r"]

    def _note(self, branch: int) -> None:
        """Keep the confidence the last read's reply carried as ``branch``'s."""
        if self._last is None:
            self._confidence.pop(branch, None)
        else:
            self._confidence[branch] = self._last

    # -- the read primitives (see autotts.env.session.Session) -------------------
    def probe_new(self) -> Probe:
        answer, branch, finished = self._call({"call": "probe_new"})
        self._note(branch)
        return Probe(answer, branch, finished)

    def probe_more(self, branch: int) -> tuple[str, bool]:
        if type(branch) is not int:  # an int subclass or a NumPy integer: sent as an int
            try:
                branch = int(branch)
            except (TypeError, ValueError):
                raise InvalidAction(
                    f"branch index must be an int, got {type(branch).__name__}"
                ) from None
        answer, finished = self._call({"call": "probe_more", "branch": branch})
        self._note(branch)
        return answer, finished

    def full_read(self) -> str:
        answer: str = self._call({"call": "full_read"})
        self._note(self._opened - 1)
        return answer

    get_new_branch_final_answer = full_read

    def probe_confidence(self, branch: int) -> float | None:
        error = slot_error(branch, self._opened)
        if error is not None:
            raise error
        return self._confidence.get(int(branch))

    # -- what a controller may know ------------------------------------------------
    @property
    def probe_freq(self) -> int:
        return self._freq

    @property
    def branches_opened(self) -> int:
        return int(self._opened)

    @property
    def can_branch(self) -> bool:
        return bool(self._can)

    @property
    def tokens_used(self) -> float:
        return float(self._cost)

    def _keep(self, step: TraceStep) -> None:
        # Only the last steps go back to the parent: a controller tracing in a long loop
        # must not fill this process's memory (cut in halves, not at every step).
        assert self._trace is not None
        self._trace.append(step)
        if len(self._trace) > 2 * MAX_TRACE_STEPS:
            del self._trace[:-MAX_TRACE_STEPS]

    def steps(self) -> list[dict[str, Any]] | None:
        return None if self._trace is None else self._trace[-MAX_TRACE_STEPS:]


def solve_forwarded(
    controller: Any, request: dict[str, Any], requests: BinaryIO, out: BinaryIO
) -> dict[str, Any]:
    """Run one episode of ``controller`` over a forwarded session; the final message
    (``{"ok": true, "answer": ..., "trace": ...}``) or a :class:`Failure`."""
    session = ForwardedSession(request, requests, out)
    try:
        answer = controller.solve(session)
    except SystemExit:
        raise
    except BaseException as exc:
        raise classify(exc, "solve-raised", episode=0) from None
    if answer is not None and type(answer) is not str:
        raise Failure("bad-return", "bad-return", episode=0, type=type(answer).__name__)
    message: dict[str, Any] = {"ok": True, "answer": answer}
    steps = session.steps()
    if steps is not None:
        message["trace"] = steps
    return message
