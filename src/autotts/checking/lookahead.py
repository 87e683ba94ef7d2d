"""The check's look-ahead audit: cells of the check replayed in fresh workers on shadow data.

The same audit as every evaluation's (:mod:`autotts.evaluation.audit`), with a
larger share: per data file, :data:`AUDITED_CELLS` of the check's β cells, drawn at
random with a key drawn fresh for this check (and recorded in its report only as
the seeds it produced), each with half of its seeds replayed in a new worker on data
in which three questions in four are counterfactual.

Power: the check of one file replays 6 cells × 2 seeds × 23 counterfactual
questions = 276 episodes; a controller that peeks on 0.5 % of episodes (changing its
play when it does) passes with probability 0.995 ** 276 ≈ 25 % on one file and ≈ 1.6 %
on three. The check is not the only audit: every cell of an evaluation is audited too.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

from autotts.checking.report import CheckResult
from autotts.data.records import ReplaySet
from autotts.evaluation.audit import AuditPolicy, audit_cell, cell_name
from autotts.evaluation.protocols import EvaluationProtocol
from autotts.evaluation.sandboxed import SandboxRun
from autotts.sandbox import CandidateFile, SandboxLimits

__all__ = ["AUDITED_CELLS", "CHECK_AUDIT_SHARE", "shadow_audits"]

#: β cells audited per data file.
AUDITED_CELLS = 6

#: Share of an audited cell's seeds replayed.
CHECK_AUDIT_SHARE = 0.5


def shadow_audits(
    candidate: CandidateFile,
    replays: Sequence[ReplaySet],
    runs: dict[tuple[int, float], SandboxRun],
    protocol: EvaluationProtocol,
    limits: SandboxLimits | None,
    say: Callable[[str], None],
) -> CheckResult:
    """Audit :data:`AUDITED_CELLS` random cells of ``runs`` per file; raises
    ``CandidateRejected`` (``peeking``, ``nondeterministic``) on a difference."""
    policy = AuditPolicy(os.urandom(32), CHECK_AUDIT_SHARE)
    records: list[dict[str, Any]] = []
    for i, replay in enumerate(replays):
        betas = sorted(beta for (file, beta) in runs if file == i)
        # Which cells: the key's choice, as secret as the replicates it picks.
        chosen = sorted(betas, key=lambda b: policy.seed(f"pick:{replay.name}:{b!r}"))
        for beta in sorted(chosen[:AUDITED_CELLS]):
            say(f"check: look-ahead audit on {replay.name} at β={beta:g}")
            record = audit_cell(
                candidate,
                replay,
                protocol,
                runs[i, beta],
                policy=policy,
                cell=cell_name(candidate, replay, protocol, beta, None),
                beta=beta,
                params=None,
                max_steps=None,
                limits=limits,
            )
            records.append({"data": replay.name, "beta": beta, **record})
    episodes = sum(r["episodes"] for r in records)
    counterfactual = sum(
        r["episodes"]
        * r["counterfactual_questions"]
        // max(1, r["counterfactual_questions"] + r["real_questions"])
        for r in records
    )
    return CheckResult(
        "look-ahead",
        True,
        f"{len(records)} cells ({episodes} episodes) replayed in fresh processes on data in "
        "which everything not revealed was replaced (three questions in four): identical "
        "actions and answers",
        {
            "cells": records,
            "episodes": episodes,
            "counterfactual_episodes": counterfactual,
            "p_catch_peeking_half_pct": round(1 - 0.995**counterfactual, 4),
        },
    )
