"""Counterfactual look-ahead audit: does the controller decide only on what it paid to see?

A random sample of the episodes a controller already played is played again, each
twice, in one shuffled batch: once as it really was, once as a
:func:`~autotts.checking.counterfactual.counterfactual` in which everything the
first run did not reveal is replaced by values drawn from another question of the
same file. An honest controller sees identical observations in both and must
produce the same action log and the same answer; the first step where the
counterfactual's log diverges is reported. Answers the controller saw are kept
verbatim in the counterfactual, so the consistent renaming of its answer is the
identity: it must return the very same string. The counterfactual's gold answer is
one no branch gives, so accuracy on counterfactuals must be 0.

Sample size. If a controller peeks on a fraction ``p`` of episodes and a peek
changes its behaviour under the counterfactual, an audit of ``n`` episodes misses it
with probability ``(1 - p) ** n``: with the default ``n = 150``, a controller that
peeks on 3 % of episodes is caught with probability 1 - 0.97**150 ≈ 99 %, one that
peeks on 2 % with ≈ 95 %, on 5 % with > 99.9 %.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from autotts.checking.counterfactual import (
    Branch,
    branches_of,
    counterfactual,
    materialise,
    unused_answer,
)
from autotts.checking.report import CheckResult
from autotts.data.records import ReplaySet
from autotts.evaluation.sandboxed import EpisodeOutcome
from autotts.sandbox import SandboxWorker, encode_question, replay_log

__all__ = ["DEFAULT_AUDIT_EPISODES", "AuditItem", "describe_action", "lookahead_audit"]

DEFAULT_AUDIT_EPISODES = 150


@dataclass(frozen=True)
class AuditItem:
    """An episode already played at ``beta`` on ``replay``, eligible for the audit."""

    replay: ReplaySet
    beta: float
    outcome: EpisodeOutcome


def describe_action(log: Sequence[int], step: int) -> str:
    if step >= len(log):
        return "stop and answer"
    action = log[step]
    return {-1: "probe_new()", -2: "full_read()"}.get(action, f"probe_more({action})")


def first_divergence(a: Sequence[int], b: Sequence[int]) -> int:
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y:
            return i
    return min(len(a), len(b))


def lookahead_audit(
    worker: SandboxWorker,
    items: Sequence[AuditItem],
    *,
    sample: int = DEFAULT_AUDIT_EPISODES,
    seed: int = 0,
) -> CheckResult:
    """Audit a random ``sample`` of ``items``; raises ``CandidateRejected`` on illegal play."""
    rng = np.random.default_rng(seed)
    chosen = sorted(rng.choice(len(items), size=min(sample, len(items)), replace=False).tolist())
    by_beta: dict[float, list[AuditItem]] = {}
    for i in chosen:
        by_beta.setdefault(items[i].beta, []).append(items[i])
    checked = 0
    for beta, group in sorted(by_beta.items()):
        worker.build(beta)
        questions: list[Any] = []
        golds: list[str] = []
        for item in group:
            real, cf, gold = _pair(item, rng)
            questions += [real, cf]
            golds += ["", gold]
        batch = rng.permutation(len(questions)).tolist()  # real and counterfactual interleaved
        key = f"audit-{beta}-{seed}"
        worker.send_questions(key, [encode_question(questions[i]) for i in batch])
        episodes = [(slot, list(range(questions[i].n_branches))) for slot, i in enumerate(batch)]
        results: dict[int, dict[str, Any]] = {}
        for slot, message in enumerate(worker.run(key, episodes)):
            results[batch[slot]] = message
        for k, item in enumerate(group):
            failure = _compare(item, questions[2 * k + 1], golds[2 * k + 1], results, k)
            if failure:
                return CheckResult("look-ahead", False, failure, _measure(len(chosen), checked))
            checked += 1
    return CheckResult(
        "look-ahead",
        True,
        f"{checked} sampled episodes replayed on counterfactual data with identical actions "
        "and answers",
        _measure(len(chosen), checked),
    )


def _pair(item: AuditItem, rng: np.random.Generator) -> tuple[Any, Any, str]:
    replay, outcome = item.replay, item.outcome
    question = replay.questions[outcome.question]
    real = branches_of(question, outcome.order)
    played = replay_log(question, outcome.order, outcome.log, outcome.answer, where="audit")
    others = [q for q in range(len(replay)) if q != outcome.question] or [outcome.question]
    donor_q = replay.questions[others[int(rng.integers(len(others)))]]
    donor: list[Branch] = branches_of(donor_q, range(donor_q.n_branches))
    cf = counterfactual(real, played, donor, rng)
    gold = unused_answer([*real, *cf], rng)
    return (
        materialise(real, question.probe_freq),
        materialise(cf, question.probe_freq),
        gold,
    )


def _compare(
    item: AuditItem, cf_question: Any, cf_gold: str, results: dict[int, dict[str, Any]], k: int
) -> str | None:
    outcome = item.outcome
    where = f"question {outcome.question} (replicate {outcome.replicate}, β={item.beta:g})"
    rerun, cf = results[2 * k], results[2 * k + 1]
    if rerun.get("l") != outcome.log or rerun.get("a") != outcome.answer:
        step = first_divergence(outcome.log, rerun.get("l") or [])
        return (
            f"{where}: replaying the same episode inside the audit batch changed its play at "
            f"step {step} ({describe_action(outcome.log, step)} before, "
            f"{describe_action(rerun.get('l') or [], step)} now)"
        )
    if cf.get("l") != outcome.log:
        step = first_divergence(outcome.log, cf.get("l") or [])
        return (
            f"{where}: on counterfactual data identical in everything revealed, the controller "
            f"diverged at step {step}: {describe_action(outcome.log, step)} on the real episode, "
            f"{describe_action(cf.get('l') or [], step)} on the counterfactual — it used "
            "information it had not paid to see"
        )
    # Same log as the real episode: charge it on the counterfactual and score it there.
    replay_log(
        cf_question,
        list(range(cf_question.n_branches)),
        cf.get("l") or [],
        cf.get("a"),
        where=f"counterfactual of {where}",
    )
    if cf.get("a") is not None and cf.get("a") == cf_gold:
        return f"{where}: answered the counterfactual's hidden gold answer {cf_gold!r}"
    if cf.get("a") != outcome.answer:
        return (
            f"{where}: same actions on counterfactual data but a different answer "
            f"({outcome.answer!r} vs {cf.get('a')!r}) — it used unrevealed information"
        )
    return None


def _measure(sampled: int, checked: int) -> dict[str, Any]:
    return {
        "sampled_episodes": sampled,
        "episodes_matched": checked,
        "p_catch_peeking_3pct": round(1 - math.pow(0.97, sampled), 4),
    }
