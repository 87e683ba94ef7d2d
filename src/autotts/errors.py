"""One flat error hierarchy for the whole package.

Every error a user can cause (bad data, bad arguments, an illegal action) is an
:class:`AutoTTSError`; the CLI turns those into a one-line message and exit code 2,
so a traceback always means a bug in autotts itself.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal, get_args

__all__ = [
    "REJECTION_REASONS",
    "AutoTTSError",
    "BudgetExceeded",
    "CandidateRejected",
    "ChecksumMismatch",
    "ControllerError",
    "DataFormatError",
    "DownloadError",
    "EpisodeOver",
    "InvalidAction",
    "LiveServerError",
    "NoMoreBranches",
    "PartialEpisode",
    "RejectionReason",
    "StepLimitExceeded",
    "UnknownName",
    "UsageError",
]


class AutoTTSError(Exception):
    """Base class of every error autotts raises on purpose."""

    def __reduce__(self) -> tuple[Any, ...]:
        # An error raised in a pool process crosses back pickled. Python rebuilds an
        # exception as cls(*args), which fails for the subclasses whose constructor takes
        # other arguments than their message (DataFormatError(path, problem)): the pool
        # then reports a broken-pool traceback instead of the one-line error. Rebuilt here
        # from the message and the attributes, without calling __init__ again.
        return (_rebuild, (type(self), self.args, dict(self.__dict__)))


def _rebuild(cls: type[AutoTTSError], args: tuple[Any, ...], state: dict[str, Any]) -> Any:
    error = cls.__new__(cls)
    Exception.__init__(error, *args)
    error.__dict__.update(state)
    return error


class UsageError(AutoTTSError, ValueError):
    """A bad argument: wrong range, wrong format, missing file."""


class UnknownName(UsageError, KeyError):
    """A name that is not in a registry; the message suggests the closest ones."""

    def __init__(self, kind: str, name: str, known: Iterable[str]) -> None:
        known = sorted(known)
        close = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
        hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
        super().__init__(f"unknown {kind} {name!r}{hint} (known: {', '.join(known)})")

    def __str__(self) -> str:  # KeyError would otherwise repr() the message
        return str(self.args[0])


class DataFormatError(AutoTTSError, ValueError):
    """A replay file that does not follow the upstream format.

    The message always names the file and, where it applies, the question and
    branch index, so one line is enough to find the problem.
    """

    def __init__(
        self,
        path: str,
        problem: str,
        *,
        question: int | None = None,
        branch: int | None = None,
    ) -> None:
        where = path
        if question is not None:
            where += f": question {question}"
        if branch is not None:
            where += f", branch {branch}"
        super().__init__(f"{where}: {problem}")
        self.path = path
        self.question = question
        self.branch = branch
        self.problem = problem


class DownloadError(AutoTTSError):
    """A replay file could not be fetched."""


class ChecksumMismatch(DownloadError):
    """A fetched file's SHA-256 is not the one the package knows."""


class InvalidAction(AutoTTSError, ValueError):
    """An action that is not admissible in the current state.

    Subclasses ``ValueError`` so controllers written against the published
    reference code (which catches ``IndexError``/``ValueError``) keep working.
    """


class NoMoreBranches(InvalidAction, IndexError):
    """Every branch of the question has been opened already."""


class BudgetExceeded(InvalidAction):
    """The action would take the episode past its token budget."""


class EpisodeOver(InvalidAction):
    """An action after the episode was answered."""


class ControllerError(AutoTTSError):
    """A controller could not be loaded, or crashed while solving."""


class StepLimitExceeded(ControllerError):
    """A controller made more session calls in one episode than the step limit allows.

    The usual cause is a loop that never ends, such as reading a finished branch
    again and again with ``probe_more`` (which is free).
    """


#: Why a sandboxed candidate controller was rejected (``CandidateRejected.reason``).
RejectionReason = Literal[
    "load",
    "interface",
    "crash",
    "bad-return",
    "timeout",
    "memory",
    "forbidden",
    "peeking",
    "cheating",
    "nondeterministic",
    "non-monotone",
]
#: The reason codes, in order (the one list of them: :data:`RejectionReason`'s values).
REJECTION_REASONS: tuple[str, ...] = get_args(RejectionReason)


@dataclass(frozen=True)
class PartialEpisode:
    """What a sandboxed episode did before it failed, as its worker claims it (checked
    for shape by the parent, not for truth: the evaluator replays the log itself)."""

    #: the action codes it played (see :mod:`autotts.env.fast_session`)
    log: list[int]
    #: its trace steps so far, when the run was traced
    trace: list[dict[str, Any]] | None


class CandidateRejected(ControllerError):
    """A controller run in the sandbox failed; ``reason`` is one of :data:`REJECTION_REASONS`.

    ``episode`` is the index, in the last run request, of the episode that failed (when
    one did), and ``partial`` what that episode did before it failed (when known).
    """

    def __init__(
        self,
        reason: str,
        detail: str,
        episode: int | None = None,
        partial: PartialEpisode | None = None,
    ) -> None:
        if reason not in REJECTION_REASONS:
            raise ValueError(f"unknown rejection reason {reason!r}")
        super().__init__(f"controller rejected ({reason}): {detail}")
        self.reason = reason
        self.detail = detail
        self.episode = episode
        self.partial = partial

    def __reduce__(self) -> tuple[Any, ...]:
        # An exception pickles as its class and args (here: the message alone), which this
        # constructor does not take; a rejection crosses process pools whole.
        return (type(self), (self.reason, self.detail, self.episode, self.partial))


class LiveServerError(AutoTTSError):
    """A model server could not be reached, or answered with an error (see :mod:`autotts.live`)."""
