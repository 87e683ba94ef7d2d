"""A per-episode step limit, so a controller that never stops is stopped.

Reading a finished branch again with ``probe_more`` is free, so a controller can
loop forever without spending a token. :class:`StepLimitedSession` counts the
session's read calls (``probe_new``, ``probe_more``, ``full_read``) and raises
:class:`~autotts.errors.StepLimitExceeded` on the call past the limit — and on
every call after it, so a controller that swallows the error cannot go on reading.
"""

from __future__ import annotations

from autotts.env.session import EpisodeBackend, Probe, Session, TraceStep
from autotts.errors import StepLimitExceeded

__all__ = ["DEFAULT_MAX_STEPS", "StepLimitedSession", "step_limit_error"]

#: Read calls one episode may make; the published controllers need at most a few thousand.
DEFAULT_MAX_STEPS = 100_000


def step_limit_error(max_steps: int) -> StepLimitExceeded:
    """The error of the read call past ``max_steps`` (one text for every session kind)."""
    return StepLimitExceeded(
        f"stopped after {max_steps:,} session calls in one episode: the "
        "controller does not stop (a loop over probe_more on a finished branch, "
        "which is free?); if it really needs more, raise the limit with --max-steps"
    )


class StepLimitedSession(Session):
    """A :class:`Session` that allows at most ``max_steps`` read calls."""

    __slots__ = ("_max_steps", "steps")

    def __init__(
        self,
        episode: EpisodeBackend,
        trace: list[TraceStep] | None = None,
        *,
        max_steps: int = DEFAULT_MAX_STEPS,
    ) -> None:
        if max_steps < 1:
            raise ValueError(f"max_steps must be >= 1, got {max_steps}")
        super().__init__(episode, trace)
        self._max_steps = max_steps
        #: read calls made so far (including a refused one)
        self.steps = 0

    def _step(self) -> None:
        self.steps += 1
        if self.steps > self._max_steps:
            raise step_limit_error(self._max_steps)

    def probe_new(self) -> Probe:
        self._step()
        return super().probe_new()

    def probe_more(self, branch: int) -> tuple[str, bool]:
        self._step()
        return super().probe_more(branch)

    def full_read(self) -> str:
        self._step()
        return super().full_read()

    get_new_branch_final_answer = full_read
