"""The look-ahead audit of a cell: one of its replicates played again, in a fresh worker,
on shadow data.

Every cell a controller file plays in the sandbox — in ``check``, ``eval``,
``sweep``, a discovery round's search-set cells and its held-out evaluation — is
open to an audit after it has been played: 40 % of them (:data:`DEFAULT_SHARE`), and
in each :data:`DEFAULT_AUDITS` of its replicates (seeds), drawn with a secret key,
are each played again in a new worker process (same
interpreter, limits, answer renaming, β and orders) on :func:`shadow data
<autotts.sandbox.shadow.shadow_replay>` in which three questions in four are
counterfactual — everything that episode did not reveal replaced — and the rest
real. The key is drawn fresh in every evaluating process and never sent to a
worker; the seed and replicate of each audit are recorded with the cell's result.

Why one replicate per process: the shadow's worker must not hold what the real
worker held. It never sees a question's real data (only what one episode revealed
of it), and never two versions of one question, whose agreement would give away
what other episodes revealed. So no memo — of earlier episodes, other processes or
the check — can make the replay agree, and nothing the worker sees while it plays
tells it which of its episodes will be replayed: it cannot play honestly only where
it is watched. A shadow worker may replay shadows of *other* files before
(:func:`~autotts.evaluation.kept_workers.run_shadow`: never one that shares a recorded
branch with this file): what it holds of them says nothing about this file's hidden
data. That lets one worker start serve a discovery round's audits of its four files.

Every replayed episode must come out with the same action log and the same answer:

* on a counterfactual question, a difference means the controller used what it had
  not paid to see in that episode — hidden data, or what other episodes revealed
  (reason ``peeking``);
* on a real question, the data are the same and only the process is new: a
  difference means the controller's play depends on its process — randomness,
  ``id``/``hash`` values, or earlier episodes (reason ``nondeterministic``); such
  a difference is reported first.

Cost: one replicate per audited cell (about 1 % of a 100-seed cell), plus a worker's
start per audited file and shadow worker. Power: a controller that peeks on a fraction ``p`` of
episodes, changing its play when it does, escapes the audit of ``n`` counterfactual
episodes with probability ``(1 - p) ** n``; each audited replicate of a 30-question
file replays 22 counterfactual episodes (``round(REAL_SHARE * 30)`` = 8 stay real), so
40 % of a discovery round's 44 cells replay about 396 (a 1 % peeker escapes with
probability 1.9 %), and the check adds
its own (:mod:`autotts.checking.lookahead`).
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from autotts.data.records import ReplaySet
from autotts.errors import CandidateRejected, UsageError
from autotts.evaluation.interpreters import run_file
from autotts.evaluation.keeping import CellContext
from autotts.evaluation.kept_workers import KeptWorkers, run_shadow
from autotts.evaluation.protocols import EvaluationProtocol, ReplicateSlice
from autotts.evaluation.runner import TraceSink
from autotts.evaluation.sandboxed import EpisodeOutcome, SandboxRun
from autotts.sandbox import CandidateFile, SandboxLimits
from autotts.sandbox.renaming import process_key
from autotts.sandbox.shadow import branch_fingerprints, revealed_of_logs, shadow_replay

__all__ = [
    "AUDITS_VARIABLE",
    "DEFAULT_AUDITS",
    "DEFAULT_SHARE",
    "REAL_SHARE",
    "SHARE_VARIABLE",
    "AuditPolicy",
    "audit_cell",
    "cell_name",
    "default_policy",
    "run_audited",
]

#: Replicates of an audited cell the audit replays (each in a worker fresh for its file).
DEFAULT_AUDITS = 1

#: Environment variable that sets that number for a process (0 turns audits off).
AUDITS_VARIABLE = "AUTOTTS_AUDITS"

#: Share of cells audited, each drawn with the secret key. With 40 % of the cells a
#: discovery round's CPU is 1.10x the previous release's, which had no such audit
#: (``benchmarks/versus.py``, docs/benchmarks.md); a worker start, shared by the audits of
#: different files, is still most of an audit's cost.
DEFAULT_SHARE = 0.4

#: Environment variable that sets that share for a process (0 to 1).
SHARE_VARIABLE = "AUTOTTS_AUDIT_SHARE"

#: Share of a shadow's questions kept real (the rest are counterfactual).
REAL_SHARE = 0.25


@dataclass(frozen=True)
class AuditPolicy:
    """Which replicates of a cell are audited (``audits`` of them, each in a fresh
    worker), and the seeds of their shadows, from a secret ``key``."""

    key: bytes = field(repr=False)
    audits: int = DEFAULT_AUDITS
    #: share of cells audited (drawn per cell with the key)
    share: float = 1.0

    def __post_init__(self) -> None:
        if self.audits < 0:
            raise UsageError(f"the number of audits must be >= 0, got {self.audits}")
        if not 0 <= self.share <= 1:
            raise UsageError(f"the audited share of cells must be in [0, 1], got {self.share}")

    def _draw(self, purpose: str, cell: str) -> int:
        digest = hmac.new(self.key, f"{purpose}:{cell}".encode(), hashlib.sha256).digest()
        return int.from_bytes(digest[:8], "big")

    def replicates(self, cell: str, replicates: int) -> list[int]:
        """The replicates of the cell named ``cell`` (:func:`cell_name`) to replay (none
        when the cell is not among the audited share)."""
        if self._draw("audited", cell) >= self.share * 2**64:
            return []
        count = min(self.audits, replicates)
        rng = np.random.default_rng(self._draw("replicates", cell))
        return sorted(int(r) for r in rng.choice(replicates, size=count, replace=False))

    def seed(self, cell: str) -> int:
        """The seed of a shadow (recorded with its result)."""
        return self._draw("seed", cell)


def default_policy() -> AuditPolicy:
    """This process's policy: its own key, the number of replicates from
    ``$AUTOTTS_AUDITS`` and the share of cells from ``$AUTOTTS_AUDIT_SHARE``."""
    audits_text = os.environ.get(AUDITS_VARIABLE, "")
    share_text = os.environ.get(SHARE_VARIABLE, "")
    try:
        audits = int(audits_text) if audits_text else DEFAULT_AUDITS
        share = float(share_text) if share_text else DEFAULT_SHARE
    except ValueError:
        raise UsageError(
            f"${AUDITS_VARIABLE} must be a whole number and ${SHARE_VARIABLE} a number in "
            f"[0, 1], got {audits_text!r} and {share_text!r}"
        ) from None
    return AuditPolicy(process_key(), audits, share)


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


def run_audited(
    candidate: CandidateFile,
    replay: ReplaySet,
    protocol: EvaluationProtocol,
    *,
    beta: float | None,
    params: dict[str, Any] | None,
    max_steps: int | None,
    interpreter: str,
    context: CellContext | None = None,
    trace_sink: TraceSink | None = None,
    progress: Any = None,
    policy: AuditPolicy | None = None,
) -> tuple[SandboxRun, dict[str, Any]]:
    """One cell of a controller file (:func:`~autotts.evaluation.interpreters.run_file`),
    then its audit by ``policy`` (this process's by default): the one way every
    evaluation runs a file. Returns the run and the audit's record. ``context`` is the
    keeping block's (:mod:`~autotts.evaluation.keeping`): its kept workers and
    interpreter rule; without one, the cell and its audit start workers of their own.

    A traced cell is not audited: it replays episodes an untraced cell of the same job
    plays and is audited in (traces are for reading, their numbers are the job's).
    """
    policy = policy if policy is not None else default_policy()
    cell = cell_name(candidate, replay, protocol, beta, params)
    # Decided before the cell runs (the worker never learns it): only an audited cell
    # keeps its episodes' action logs, which the shadow is built from.
    audited = trace_sink is None and bool(policy.replicates(cell, protocol.replicates))
    run = run_file(
        candidate,
        replay,
        protocol,
        beta=beta,
        params=params,
        max_steps=max_steps,
        interpreter=interpreter,
        workers=None if context is None else context.workers,
        policy=None if context is None else context.interpreters,
        trace_sink=trace_sink,
        progress=progress,
        keep_logs=audited,
    )
    if not audited:
        return run, {"audited": False}
    record = audit_cell(
        candidate,
        replay,
        protocol,
        run,
        policy=policy,
        cell=cell,
        beta=beta,
        params=params,
        max_steps=max_steps,
        workers=None if context is None else context.workers,
    )
    return run, record


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
    workers: KeptWorkers | None = None,
) -> dict[str, Any]:
    """Audit the cell ``real`` (run with ``keep_logs``; ``cell`` its :func:`cell_name`):
    replay each of ``policy``'s replicates of it on its shadow, in a worker that never
    held a version of this file's data (a new one, or the shadow worker ``workers`` keep
    while it has played only other files: :func:`~autotts.evaluation.kept_workers.run_shadow`).

    Returns the audit's record for the cell's result; raises
    :class:`CandidateRejected` (``peeking`` or ``nondeterministic``) when an episode
    comes out differently.
    """
    chosen = policy.replicates(cell, protocol.replicates)
    if not chosen:
        return {"audited": False}
    questions = len(replay)
    fingerprints = branch_fingerprints(replay)
    shadows = []
    for replicate in chosen:
        seed = policy.seed(f"{cell}#{replicate}")
        rng = np.random.default_rng(seed)
        outcomes = real.outcomes[replicate * questions : (replicate + 1) * questions]
        # The logs were checked when the cell was played: what they revealed is read off
        # them (revealed_of_logs), not replayed call by call.
        revealed = revealed_of_logs(replay, [(o.question, o.order, o.log) for o in outcomes])
        real_size = round(REAL_SHARE * questions)
        kept_real = set(rng.choice(questions, size=real_size, replace=False).tolist())
        counterfactual = {q: r for q, r in revealed.items() if q not in kept_real}
        shadow = shadow_replay(replay, counterfactual, rng)

        judge = functools.partial(_judge, outcomes, set(counterfactual), beta)
        # A PyPy cell's shadow plays first on CPython, whose worker starts for a fraction of
        # a cold PyPy worker's CPU; only a difference there is replayed on PyPy, and only a
        # difference on the cell's own interpreter is a verdict. Sound either way: to match
        # on any interpreter, the shadow's play must equal the real play, which a controller
        # that used what it had not paid for cannot reproduce without it.
        first = "cpython" if limits is None else real.interpreter
        for interpreter in dict.fromkeys([first, real.interpreter]):
            try:
                # In a worker that never held a version of this file's data: the kept shadow
                # worker while it is fresh for it, else a new one (kept_workers.run_shadow).
                run_shadow(
                    candidate,
                    shadow,
                    ReplicateSlice(protocol, replicate, replicate + 1),
                    questions=fingerprints,
                    judge=judge,
                    beta=beta,
                    params=params,
                    max_steps=max_steps,
                    limits=limits or SandboxLimits(interpreter=interpreter),
                    renaming=real.renaming,
                    workers=workers,
                )
                break
            except CandidateRejected:
                if interpreter == real.interpreter:
                    raise
        shadows.append(
            {"replicate": replicate, "seed": f"{seed:016x}", "counterfactual": len(counterfactual)}
        )
    return {
        "audited": True,
        "shadows": shadows,
        "questions": questions,
        "interpreter": real.interpreter,
    }


def _judge(
    real: Sequence[EpisodeOutcome],
    counterfactual: set[int],
    beta: float | None,
    shadow: SandboxRun,
) -> None:
    _compare(real, shadow.outcomes, counterfactual, beta)


def _compare(
    real: Sequence[EpisodeOutcome],
    shadow: Sequence[EpisodeOutcome],
    counterfactual: set[int],
    beta: float | None,
) -> None:
    if len(real) != len(shadow):
        raise CandidateRejected("cheating", "the audit's rerun returned a different episode count")
    differences = [(m, t) for m, t in zip(real, shadow) if (m.log, m.answer) != (t.log, t.answer)]
    if not differences:
        return
    # A difference on real data (only the process is new) explains any other: report it first.
    on_real = [(m, t) for m, t in differences if m.question not in counterfactual]
    mine, theirs = (on_real or differences)[0]
    where = f"question {mine.question} (replicate {mine.replicate}, β={beta})"
    step = first_divergence(mine.log, theirs.log)
    what = (
        f"step {step} was {describe_action(mine.log, step)}, then "
        f"{describe_action(theirs.log, step)}"
        if mine.log != theirs.log
        else f"the same actions, but answer {mine.answer!r} then {theirs.answer!r}"
    )
    if on_real:
        raise CandidateRejected(
            "nondeterministic",
            f"{where}: replayed in a fresh process on the same data, it played differently "
            f"({what}): its play depends on the process (randomness, id/hash values or "
            "earlier episodes)",
        )
    raise CandidateRejected(
        "peeking",
        f"{where}: replayed in a fresh process on data identical in everything it had "
        f"revealed, it played differently ({what}): it used information it had not paid "
        "to see",
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
