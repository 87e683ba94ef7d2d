"""A :class:`Session` that records every read by itself.

When traces are on, the evaluator hands controllers a :class:`TracingSession`
instead of a plain :class:`Session`. Each read primitive then appends one
``read`` step, whether or not the controller calls ``session.trace``::

    {"event": "read", "goal": "",
     "input": {"branch": b, "depth": k, "full": bool},
     "output": {"answer": str, "finished": bool[, "confidence": float]},
     "state": {"charged": tokens charged by this read, "tokens": episode total after it},
     "decision": ""}

``depth`` counts the reads of that branch so far, this one included (1-based);
``full`` is true for :meth:`Session.full_read`. ``confidence`` is there only when the
read's answer has one (a probe of data with confidences: :meth:`Session.probe_confidence`),
so traces of data without them are as they always were. It is a
:class:`~autotts.env.limits.StepLimitedSession`, so the step limit holds when
tracing too; an untraced replay pays nothing for the recording.
"""

from __future__ import annotations

from autotts.env.limits import DEFAULT_MAX_STEPS, StepLimitedSession
from autotts.env.session import EpisodeBackend, Probe, TraceStep

__all__ = ["READ_EVENT", "TracingSession"]

#: The ``event`` field of the steps this session records.
READ_EVENT = "read"


class TracingSession(StepLimitedSession):
    """A step-limited session whose reads are recorded in ``trace`` (a list it appends to)."""

    __slots__ = ("_reads", "_steps")

    def __init__(
        self,
        episode: EpisodeBackend,
        trace: list[TraceStep],
        *,
        max_steps: int = DEFAULT_MAX_STEPS,
    ) -> None:
        super().__init__(episode, trace, max_steps=max_steps)
        self._steps = trace
        self._reads: dict[int, int] = {}

    def probe_new(self) -> Probe:
        before = self._episode.cost
        probe = super().probe_new()
        self._record(probe.branch, False, probe.answer, probe.finished, before)
        return probe

    def probe_more(self, branch: int) -> tuple[str, bool]:
        before = self._episode.cost
        answer, finished = super().probe_more(branch)
        self._record(branch, False, answer, finished, before)
        return answer, finished

    def full_read(self) -> str:
        before = self._episode.cost
        answer = super().full_read()
        self._record(self._episode.opened - 1, True, answer, True, before)
        return answer

    get_new_branch_final_answer = full_read

    def _record(self, branch: int, full: bool, answer: str, finished: bool, before: float) -> None:
        depth = self._reads.get(branch, 0) + 1
        self._reads[branch] = depth
        after = self._episode.cost
        output: dict[str, object] = {"answer": answer, "finished": finished}
        confidence = self.probe_confidence(branch)
        if confidence is not None:
            output["confidence"] = confidence
        self._steps.append(
            {
                "event": READ_EVENT,
                "goal": "",
                "input": {"branch": branch, "depth": depth, "full": full},
                "output": output,
                "state": {"charged": after - before, "tokens": after},
                "decision": "",
            }
        )
