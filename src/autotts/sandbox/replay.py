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

from collections.abc import Sequence
from typing import Any

from autotts.data.records import ReplayQuestion
from autotts.env.episode import Episode
from autotts.env.session import Session
from autotts.errors import AutoTTSError, CandidateRejected

__all__ = ["FULL_READ", "PROBE_NEW", "replay_log", "revealed_answers"]

#: action codes of a log: probe_new(), full_read(); an index i >= 0 is probe_more(i)
PROBE_NEW, FULL_READ = -1, -2


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
    if answer is not None and type(answer) is not str:
        raise CandidateRejected(
            "bad-return", f"{where}: returned {type(answer).__name__}; must be a str or None"
        )
    if answer is not None and len(answer) > max_answer_chars:
        raise CandidateRejected(
            "bad-return",
            f"{where}: answer of {len(answer)} characters (at most {max_answer_chars})",
        )
    if (
        answer is not None
        and answer in question.answers
        and answer not in revealed_answers(episode)
    ):
        raise CandidateRejected(
            "cheating",
            f"{where}: answered {answer!r}, a branch answer its actions never revealed",
        )
    return episode


def revealed_answers(episode: Episode) -> set[str]:
    """Every answer string the episode's actions revealed."""
    return {episode.revealed_answer(slot, depth) for slot, depth in episode.revealed}
