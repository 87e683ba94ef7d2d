"""The forwarded session records a controller's trace steps by the session's one rule,
and keeps only the last ones for the parent."""

from __future__ import annotations

import io

from autotts.env.session import CONTROLLER_READ, Session
from autotts.sandbox.live_session import MAX_TRACE_STEPS, ForwardedSession


def _session(tracing: bool) -> ForwardedSession:
    request = {"probe_freq": 500, "opened": 0, "cost": 0.0, "can": True, "tracing": tracing}
    return ForwardedSession(request, io.BytesIO(), io.BytesIO())


def test_steps_are_recorded_as_a_replayed_session_records_them() -> None:
    forwarded, replayed = _session(True), Session(episode=None, trace=[])  # type: ignore[arg-type]
    for session in (forwarded, replayed):
        assert session.tracing
        session.trace("read", goal="g", input=1, output=[2], state={"s": 3}, decision="d")
        session.trace("stop", decision="agreed")
    assert forwarded.steps() == replayed._trace
    assert forwarded.steps()[0]["event"] == CONTROLLER_READ  # type: ignore[index]


def test_an_untraced_session_records_nothing() -> None:
    session = _session(False)
    assert not session.tracing
    session.trace("stop")
    assert session.steps() is None


def test_a_long_trace_keeps_its_last_steps_in_bounded_memory() -> None:
    session = _session(True)
    for i in range(5 * MAX_TRACE_STEPS + 7):  # several cuts, the last one mid-way
        session.trace("step", input=i)
        assert len(session._trace) <= 2 * MAX_TRACE_STEPS  # type: ignore[arg-type]
    steps = session.steps()
    assert steps is not None and len(steps) == MAX_TRACE_STEPS
    last = 5 * MAX_TRACE_STEPS + 7
    assert [s["input"] for s in steps] == list(range(last - MAX_TRACE_STEPS, last))
