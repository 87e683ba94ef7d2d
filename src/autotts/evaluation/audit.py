"""The look-ahead audit of a cell: part of it played again, in a fresh worker, on shadow data.

Every cell a controller file plays in the sandbox — in ``check``, ``eval``,
``sweep``, a discovery round's search-set cells and its held-out evaluation — is
audited after it has been played: a block of its replicates (seeds), a share
``share`` of them at a position drawn from a secret key, runs again in a new worker
process (same interpreter, limits, answer renaming, β and orders) on
:func:`shadow data <autotts.sandbox.shadow.shadow_replay>` in which three questions
in four are counterfactual and the rest real. The key is drawn fresh in every
evaluating process and never sent to a worker; the seed of each audit is recorded
with the cell's result. Nothing the worker sees while it plays tells it which of its
episodes will be replayed, so it cannot play honestly only where it is watched; and
the shadow's worker never held the real data of its counterfactual questions, so no
memo of earlier episodes, processes or checks can make the replay agree.

Every replayed episode must come out with the same action log and the same answer:

* on a counterfactual question, a difference means the controller used what it had
  not paid to see (reason ``peeking``);
* on a real question, the data are the same and only the process is new: a
  difference means the controller's play depends on its process — randomness,
  ``id``/``hash`` values, or earlier episodes (reason ``nondeterministic``).

Cost: the audit replays ``share`` of every cell (default 0.25: a quarter more work,
plus a worker's start). A controller that peeks on a fraction ``p`` of episodes,
changing its play when it does, escapes one cell's audit of ``n`` counterfactual
episodes with probability ``(1 - p) ** n``: for a 100-seed cell of 30 questions
(25 seeds replayed, 23 counterfactual questions: 575 episodes) and ``p`` = 0.5 %,
about 6 %; over a discovery round's eleven β cells, below 1e-13.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from autotts.data.records import ReplaySet
from autotts.errors import CandidateRejected, UsageError
from autotts.evaluation.protocols import EvaluationProtocol, ReplicateSlice
from autotts.evaluation.sandboxed import EpisodeOutcome, SandboxRun, run_in_sandbox
from autotts.sandbox import CandidateFile, SandboxLimits, replay_log
from autotts.sandbox.renaming import process_key
from autotts.sandbox.shadow import revealed_of, shadow_replay

__all__ = [
    "AUDIT_SHARE_VARIABLE",
    "DEFAULT_AUDIT_SHARE",
    "REAL_SHARE",
    "AuditPolicy",
    "audit_cell",
    "cell_name",
    "default_policy",
]

#: Share of each cell's replicates the audit replays, by default.
DEFAULT_AUDIT_SHARE = 0.25

#: Environment variable that sets that share (0 to 1; 0 turns audits off) for a process.
AUDIT_SHARE_VARIABLE = "AUTOTTS_AUDIT_SHARE"

#: Share of a shadow's questions kept real (the rest are counterfactual).
REAL_SHARE = 0.25


@dataclass(frozen=True)
class AuditPolicy:
    """Which replicates of a cell are audited, and the seed of its shadow, from a
    secret ``key``; ``share`` of each cell's replicates (at least one) are replayed."""

    key: bytes = field(repr=False)
    share: float = DEFAULT_AUDIT_SHARE

    def __post_init__(self) -> None:
        if not 0 <= self.share <= 1:
            raise UsageError(f"the audit share must be in [0, 1], got {self.share}")

    def _draw(self, purpose: str, cell: str) -> int:
        digest = hmac.new(self.key, f"{purpose}:{cell}".encode(), hashlib.sha256).digest()
        return int.from_bytes(digest[:8], "big")

    def block(self, cell: str, replicates: int) -> tuple[int, int] | None:
        """``(first, count)`` of the replicates of the cell named ``cell``
        (:func:`cell_name`) to replay, or ``None`` when audits are off."""
        if self.share == 0 or replicates == 0:
            return None
        count = min(replicates, max(1, math.ceil(self.share * replicates)))
        return self._draw("block", cell) % (replicates - count + 1), count

    def seed(self, cell: str) -> int:
        """The seed of the cell's shadow (recorded with its result)."""
        return self._draw("seed", cell)


def default_policy() -> AuditPolicy:
    """This process's policy: its own key, the share from ``$AUTOTTS_AUDIT_SHARE``."""
    text = os.environ.get(AUDIT_SHARE_VARIABLE, "")
    try:
        share = float(text) if text else DEFAULT_AUDIT_SHARE
    except ValueError:
        raise UsageError(
            f"${AUDIT_SHARE_VARIABLE} must be a number in [0, 1], got {text!r}"
        ) from None
    return AuditPolicy(process_key(), share)


def cell_name(
    candidate: CandidateFile,
    replay: ReplaySet,
    protocol: EvaluationProtocol,
    beta: float | None,
    params: dict[str, Any] | None,
) -> str:
    """What names a cell for the policy: the file, its settings, the data, the episodes."""
    return json.dumps(
        [
            candidate.sha256,
            candidate.class_name,
            beta,
            params or {},
            replay.sha256,
            replay.name,
            protocol.to_dict(),
        ],
        sort_keys=True,
        default=repr,
    )


def audit_cell(
    candidate: CandidateFile,
    replay: ReplaySet,
    protocol: EvaluationProtocol,
    real: SandboxRun,
    *,
    policy: AuditPolicy,
    cell: str,
    beta: float | None,
    params: dict[str, Any] | None,
    max_steps: int | None,
    limits: SandboxLimits | None = None,
) -> dict[str, Any]:
    """Audit the cell ``real`` (run with ``keep_logs``; ``cell`` its :func:`cell_name`):
    replay ``policy``'s block of its replicates in a fresh worker on their shadow.

    Returns the audit's record for the cell's result; raises
    :class:`CandidateRejected` (``peeking`` or ``nondeterministic``) when an episode
    comes out differently.
    """
    block = policy.block(cell, protocol.replicates)
    if block is None:
        return {"audited": False}
    first, count = block
    seed = policy.seed(cell)
    rng = np.random.default_rng(seed)
    questions = len(replay)
    outcomes = real.outcomes[first * questions : (first + count) * questions]
    played = [
        (
            o.question,
            o.order,
            replay_log(replay.questions[o.question], o.order, o.log, None, where="audit"),
        )
        for o in outcomes
    ]
    revealed = revealed_of(replay, played)
    n_real = round(REAL_SHARE * questions)
    kept_real = {int(q) for q in rng.choice(questions, size=n_real, replace=False)}
    counterfactual = {q: r for q, r in revealed.items() if q not in kept_real}
    shadow = shadow_replay(replay, counterfactual, rng)
    rerun = run_in_sandbox(
        candidate,
        shadow,
        ReplicateSlice(protocol, first, first + count) if count < protocol.replicates else protocol,
        beta=beta,
        params=params,
        max_steps=max_steps,
        keep_logs=True,
        limits=limits or SandboxLimits(interpreter=real.interpreter),
        renaming=real.renaming,
    )
    _compare(outcomes, rerun.outcomes, set(counterfactual), beta)
    return {
        "audited": True,
        "seed": f"{seed:016x}",
        "replicates": [first, first + count],
        "counterfactual_questions": len(counterfactual),
        "real_questions": questions - len(counterfactual),
        "episodes": len(outcomes),
        "interpreter": real.interpreter,
    }


def _compare(
    real: Sequence[EpisodeOutcome],
    shadow: Sequence[EpisodeOutcome],
    counterfactual: set[int],
    beta: float | None,
) -> None:
    if len(real) != len(shadow):
        raise CandidateRejected("cheating", "the audit's rerun returned a different episode count")
    for mine, theirs in zip(real, shadow):
        if mine.log == theirs.log and mine.answer == theirs.answer:
            continue
        where = f"question {mine.question} (replicate {mine.replicate}, β={beta})"
        step = first_divergence(mine.log, theirs.log)
        what = (
            f"step {step} was {describe_action(mine.log, step)}, then "
            f"{describe_action(theirs.log, step)}"
            if mine.log != theirs.log
            else f"the same actions, but answer {mine.answer!r} then {theirs.answer!r}"
        )
        if mine.question in counterfactual:
            raise CandidateRejected(
                "peeking",
                f"{where}: replayed in a fresh process on data identical in everything it "
                f"had revealed, it played differently ({what}): it used information it had "
                "not paid to see",
            )
        raise CandidateRejected(
            "nondeterministic",
            f"{where}: replayed in a fresh process on the same data, it played differently "
            f"({what}): its play depends on the process (randomness, id/hash values or "
            "earlier episodes)",
        )


def describe_action(log: Sequence[int], step: int) -> str:
    """The action at ``step`` of ``log``, in words."""
    if step >= len(log):
        return "stop and answer"
    action = log[step]
    return {-1: "probe_new()", -2: "full_read()"}.get(action, f"probe_more({action})")


def first_divergence(a: Sequence[int], b: Sequence[int]) -> int:
    """The first step at which two logs differ (the shorter one's length if one is a prefix)."""
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y:
            return i
    return min(len(a), len(b))
