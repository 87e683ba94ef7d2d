"""The imperative API controllers are written against (the ``reference`` protocol).

A :class:`Session` is a thin layer over :class:`~autotts.env.episode.Episode`
with exactly the read primitives of docs/replay-protocol.md §2:

* ``probe_new()`` opens the next branch, reads its first probe and returns
  ``(answer, branch, finished)``; raises :class:`NoMoreBranches` when all are open;
* ``probe_more(branch)`` reads the next probe of an open branch and returns
  ``(answer, finished)``; once a branch is finished it returns its final answer
  again at no cost;
* ``full_read()`` (alias ``get_new_branch_final_answer``) opens the next branch,
  generates it to its end in one go and returns its final answer;
* ``probe_confidence(branch)`` is the confidence of the answer the latest read of
  ``branch`` returned (a probe's, from data that records it), ``None`` otherwise. It
  reads nothing new and is free: a probe's confidence comes with its answer.

The session never holds a gold answer; scoring happens outside the controller.
It drives any :class:`EpisodeBackend`: the replayed :class:`Episode` here, and
equally a backend that asks a live model server for the next Δ tokens, so a
controller runs unchanged offline and online.
"""

from __future__ import annotations

from typing import Any, NamedTuple, Protocol

from autotts.env.episode import slot_error

__all__ = ["EpisodeBackend", "Probe", "Session", "TraceRecorder", "TraceStep", "trace_step"]


class EpisodeBackend(Protocol):
    """What a :class:`Session` needs from an episode (see :class:`~autotts.env.episode.Episode`)."""

    @property
    def opened(self) -> int: ...
    @property
    def pool_size(self) -> int: ...
    @property
    def probe_freq(self) -> int: ...
    @property
    def cost(self) -> float: ...
    def open_branch(self) -> int: ...
    def explore(self, slot: int) -> tuple[str, bool]: ...
    def advance(self, slot: int, to_end: bool = False) -> None: ...
    def reveal(self, slot: int) -> str: ...


class Probe(NamedTuple):
    """Result of :meth:`Session.probe_new`."""

    answer: str
    branch: int
    finished: bool


TraceStep = dict[str, Any]


#: what a controller's own step named ``read`` is recorded as (see :func:`trace_step`)
CONTROLLER_READ = "controller read"


def trace_step(
    event: str, goal: str, input: Any, output: Any, state: Any, decision: str
) -> TraceStep:
    """One step of a trace, as every session records it (:meth:`Session.trace`).

    ``read`` is the event of the steps the session records by itself for every read
    (:mod:`autotts.env.tracing`), whose shape the evaluator checks in a sandboxed
    worker's trace: a controller's own step of that name is recorded as ``controller
    read``, so it is neither taken for one nor refused as a forged one."""
    return {
        "event": CONTROLLER_READ if event == "read" else event,
        "goal": goal,
        "input": input,
        "output": output,
        "state": state,
        "decision": decision,
    }


class TraceRecorder:
    """The execution-trace half of the session API, shared by every session class (the
    replayed and live :class:`Session`, and the sandboxed worker's forwarded one), so a
    controller's own trace steps are recorded by one rule wherever it runs."""

    __slots__ = ()
    _trace: list[TraceStep] | None

    @property
    def tracing(self) -> bool:
        """True when traces are recorded; guard expensive trace arguments with it."""
        return self._trace is not None

    def trace(
        self,
        event: str,
        *,
        goal: str = "",
        input: Any = None,
        output: Any = None,
        state: Any = None,
        decision: str = "",
    ) -> None:
        """Record a step ``{event, goal, input, output, state, decision}``; no-op unless tracing."""
        if self._trace is not None:
            self._keep(trace_step(event, goal, input, output, state, decision))

    def _keep(self, step: TraceStep) -> None:
        assert self._trace is not None
        self._trace.append(step)


class Session(TraceRecorder):
    """One episode as a controller sees it."""

    __slots__ = ("_episode", "_trace")

    def __init__(self, episode: EpisodeBackend, trace: list[TraceStep] | None = None) -> None:
        self._episode = episode
        self._trace = trace

    # -- the read primitives ---------------------------------------------------
    def probe_new(self) -> Probe:
        """Open the next branch and read its first probe."""
        episode = self._episode
        slot = episode.open_branch()
        answer, finished = episode.explore(slot)
        return Probe(answer, slot, finished)

    def probe_more(self, branch: int) -> tuple[str, bool]:
        """Read the next probe of open branch ``branch``: ``(answer, finished)``."""
        return self._episode.explore(branch)

    def full_read(self) -> str:
        """Open the next branch, generate all of it, return its final answer."""
        episode = self._episode
        slot = episode.open_branch()
        episode.advance(slot, to_end=True)
        return episode.reveal(slot)

    #: The published code's name for :meth:`full_read`.
    get_new_branch_final_answer = full_read

    def probe_confidence(self, branch: int) -> float | None:
        """The confidence, in (0, 1], of the answer the latest read of open branch
        ``branch`` returned: ``exp`` of its probe's mean token log-probability.

        ``None`` when that answer has none: a final answer, a probe the data recorded
        without one, data without confidences (all the public files), a live server not
        asked for (or not giving) log-probabilities. It
        costs nothing and reads nothing new; an unopened branch is an
        :class:`~autotts.errors.InvalidAction`, as for :meth:`probe_more`.
        """
        episode = self._episode
        confidence = getattr(episode, "confidence", None)
        if confidence is None:  # a backend without confidences
            error = slot_error(branch, episode.opened)
            if error is not None:
                raise error
            return None
        value: float | None = confidence(branch)
        return value

    # -- what a controller may know ------------------------------------------
    @property
    def probe_freq(self) -> int:
        """Δ: tokens generated between two probes of a branch."""
        return self._episode.probe_freq

    @property
    def branches_opened(self) -> int:
        return self._episode.opened

    @property
    def can_branch(self) -> bool:
        """Whether ``probe_new``/``full_read`` can open another branch."""
        return self._episode.opened < self._episode.pool_size

    @property
    def tokens_used(self) -> float:
        return self._episode.cost
