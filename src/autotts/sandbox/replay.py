"""Trusted accounting: replay a worker's action log through the evaluator's own episode.

The worker's account of an episode is a claim. Here it is checked: every logged
primitive is applied to a fresh :class:`~autotts.env.episode.Episode` built by the
parent, which charges the tokens; a primitive the episode refuses means the log
is not one an honest run could have produced (``cheating``). The answer must be a
plain string of bounded length (``bad-return``), and if it is one of the
question's answers it must be one the logged actions revealed (``cheating``:
otherwise the controller knew something it did not pay to see).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from autotts.data.records import ReplayQuestion
from autotts.env.episode import Episode
from autotts.env.fast_session import FULL_READ, PROBE_NEW, FastSession
from autotts.env.session import Session
from autotts.errors import AutoTTSError, CandidateRejected

__all__ = [
    "FULL_READ",
    "PROBE_NEW",
    "legal_log",
    "replay_log",
    "replay_log_fast",
    "revealed_answers",
]


def replay_log(
    question: ReplayQuestion,
    order: Sequence[int],
    log: Sequence[Any],
    answer: Any,
    *,
    where: str,
    max_answer_chars: int = 1000,
) -> Episode:
    """The parent's episode after ``log``; raises :class:`CandidateRejected` if it is not legal.

    ``where`` names the episode in messages (e.g. ``"question 3 (replicate 0)"``).
    """
    episode = Episode(question, order)
    session = Session(episode)
    for step, action in enumerate(log):
        if type(action) is not int:
            raise CandidateRejected("cheating", f"{where}: action {step} is not a primitive")
        try:
            if action == PROBE_NEW:
                session.probe_new()
            elif action == FULL_READ:
                session.full_read()
            elif action >= 0:
                session.probe_more(action)
            else:
                raise CandidateRejected("cheating", f"{where}: unknown action code {action}")
        except AutoTTSError as exc:
            if isinstance(exc, CandidateRejected):
                raise
            raise CandidateRejected(
                "cheating", f"{where}: action {step} of the log is illegal: {exc}"
            ) from None
    _check_answer(
        question, answer, lambda a: a in revealed_answers(episode), where, max_answer_chars
    )
    return episode


def replay_log_fast(
    question: ReplayQuestion,
    order: Sequence[int],
    log: list[Any],
    answer: Any,
    *,
    where: str,
    max_answer_chars: int = 1000,
) -> FastSession:
    """:func:`replay_log`'s verdict and accounts, without a call per logged primitive.

    The log is checked as a whole (:func:`legal_log`); one that fails the check goes
    through :func:`replay_log`, so a rejection says exactly what it says there. The
    accounts come from :meth:`FastSession.from_log` (``cost``, ``sequential_cost``).
    """
    if not legal_log(log, len(order)):
        replay_log(question, order, log, answer, where=where, max_answer_chars=max_answer_chars)
    session = FastSession.from_log(question, order, log)
    _check_answer(question, answer, session.revealed, where, max_answer_chars)
    return session


def legal_log(log: list[Any], pool: int) -> bool:
    """Whether every entry is an action code an honest session logs, in a legal order:
    plain ints, ``probe_more(i)`` only on an opened slot, at most ``pool`` openings."""
    if not log:
        return True
    if set(map(type, log)) != {int}:  # no bool, float or str posing as an action
        return False
    opened = 0
    for action in log:  # one pass; cheaper than NumPy at a few hundred entries
        if action < 0:
            if action < FULL_READ:
                return False
            opened += 1
        elif action >= opened:
            return False
    return opened <= pool


def _check_answer(
    question: ReplayQuestion,
    answer: Any,
    revealed: Callable[[str], bool],
    where: str,
    max_answer_chars: int,
) -> None:
    """A plain, bounded string (``bad-return``), and no branch answer it did not reveal."""
    if answer is not None and type(answer) is not str:
        raise CandidateRejected(
            "bad-return", f"{where}: returned {type(answer).__name__}; must be a str or None"
        )
    if answer is not None and len(answer) > max_answer_chars:
        raise CandidateRejected(
            "bad-return",
            f"{where}: answer of {len(answer)} characters (at most {max_answer_chars})",
        )
    if answer is not None and answer in question.answers and not revealed(answer):
        raise CandidateRejected(
            "cheating",
            f"{where}: answered {answer!r}, a branch answer its actions never revealed",
        )


def revealed_answers(episode: Episode) -> set[str]:
    """Every answer string the episode's actions revealed."""
    return {episode.revealed_answer(slot, depth) for slot, depth in episode.revealed}
