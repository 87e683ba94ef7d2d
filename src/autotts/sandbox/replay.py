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
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from autotts.data.records import ReplayQuestion
from autotts.env.episode import Episode
from autotts.env.fast_session import FULL_READ, PROBE_NEW
from autotts.env.log_accounts import account_logs
from autotts.env.session import Session
from autotts.errors import AutoTTSError, CandidateRejected

__all__ = [
    "FULL_READ",
    "PROBE_NEW",
    "Accounts",
    "check_claimed_cost",
    "check_logs",
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


@dataclass(frozen=True)
class Accounts:
    """One episode's accounts from the whole-log check."""

    cost: float
    sequential_cost: float
    opened: int


def replay_log_fast(
    question: ReplayQuestion,
    order: Sequence[int],
    log: list[Any],
    answer: Any,
    *,
    where: str,
    max_answer_chars: int = 1000,
) -> Accounts | Episode:
    """:func:`replay_log`'s verdict and accounts for one episode, from its whole log at
    once (:func:`check_logs` for a single episode)."""
    if not all(type(action) is int for action in log):  # no bool, float or str posing
        return replay_log(
            question, order, log, answer, where=where, max_answer_chars=max_answer_chars
        )
    try:
        codes = np.asarray(log, dtype=np.int64)
    except OverflowError:
        return replay_log(
            question, order, log, answer, where=where, max_answer_chars=max_answer_chars
        )
    (accounts,) = check_logs(
        [question],
        [(0, order)],
        codes,
        np.asarray([len(log)], dtype=np.int64),
        [answer],
        where=lambda e: where,
        max_answer_chars=max_answer_chars,
    )
    return accounts


def check_logs(
    questions: Sequence[ReplayQuestion],
    episodes: Sequence[tuple[int, Sequence[int]]],
    codes: npt.NDArray[np.int64],
    lengths: npt.NDArray[np.int64],
    answers: Sequence[Any],
    *,
    where: Callable[[int], str],
    max_answer_chars: int = 1000,
    claimed_costs: Sequence[Any] | None = None,
    flat_orders: npt.NDArray[np.int64] | None = None,
) -> list[Accounts]:
    """:func:`replay_log`'s verdicts and accounts for many episodes at once.

    Episode ``e`` is ``(question index, order)``, its log ``lengths[e]`` codes of the
    concatenated ``codes`` (:func:`~autotts.sandbox.payload.decode_log` of a worker's
    strings), and ``answers[e]`` what it returned; ``where(e)`` names it in messages.
    The logs are checked and charged together (:func:`~autotts.env.log_accounts.
    account_logs`). Episodes are judged in order, and the first one that fails is
    rejected as :func:`replay_log` rejects it: an illegal log is replayed call by call,
    so its message says exactly what it says there. With ``claimed_costs`` (the tokens
    the worker counted for each), each episode's claim is then checked against its
    accounts (:func:`check_claimed_cost`). ``flat_orders``: the episodes' orders laid
    end to end, if the caller has them so (:func:`~autotts.env.log_accounts.account_logs`).
    """
    table = account_logs(questions, episodes, codes, lengths, answers, flat_orders)
    starts = (np.cumsum(lengths) - lengths).tolist()
    out: list[Accounts] = []
    legal, revealed = table.legal.tolist(), table.revealed.tolist()
    costs, longest, opened = (
        table.cost.tolist(),
        table.sequential_cost.tolist(),
        table.opened.tolist(),
    )
    for e, (q, order) in enumerate(episodes):
        if not legal[e]:
            log = codes[starts[e] : starts[e] + int(lengths[e])].tolist()
            episode = replay_log(
                questions[q],
                order,
                log,
                answers[e],
                where=where(e),
                max_answer_chars=max_answer_chars,
            )
            accounts = Accounts(episode.cost, episode.sequential_cost, episode.opened)
        else:
            _check_answer(
                questions[q], answers[e], _answered(revealed[e]), where(e), max_answer_chars
            )
            accounts = Accounts(costs[e], longest[e], opened[e])
        if claimed_costs is not None:
            check_claimed_cost(claimed_costs[e], accounts.cost, where(e))
        out.append(accounts)
    return out


def _answered(revealed: bool) -> Callable[[str], bool]:
    """``revealed(answer)`` for an episode whose answer's verdict is known already."""
    return lambda _answer: revealed


def check_claimed_cost(claimed: Any, cost: float, where: str) -> None:
    """The worker's own token count must be the evaluator's: a mismatch means the
    candidate tampered with the accounting (``cheating``)."""
    if claimed != cost:
        raise CandidateRejected(
            "cheating",
            f"{where}: the controller's process counted {claimed!r} tokens, the evaluator's "
            f"replay of its actions {cost:g}: the accounting was tampered with",
        )


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
