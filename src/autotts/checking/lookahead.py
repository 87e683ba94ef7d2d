"""The check's look-ahead audit: cells of the check replayed in fresh workers on shadow data.

The same audit as every evaluation's (:mod:`autotts.evaluation.audit`), on
:data:`AUDITED_CELLS` of the check's cells in all (spread evenly over the data files,
at least one each, at most every cell), drawn at random with a key drawn fresh for
this check, each with one replicate replayed in a new worker on data in which three
questions in four are counterfactual. (A worker's start is most of an audit's cost,
so the number of audited cells is fixed, not proportional to the data.)

Power: with the default grid (24 cells per file) on 30-question files, the check
replays 24 × 22 = 528 counterfactual episodes (8 of 30 questions stay real);
a controller that peeks on 1 % of episodes (changing its play when it does) passes
with probability 0.99 ** 528 ≈ 0.5 %. Rarer peeking is left to the audits of every
evaluation cell, which it meets many more of.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

from autotts.checking.report import CheckResult
from autotts.data.records import ReplaySet
from autotts.evaluation.audit import AuditPolicy, audit_cell, cell_name
from autotts.evaluation.keeping import keeping_workers
from autotts.evaluation.protocols import EvaluationProtocol
from autotts.evaluation.sandboxed import SandboxRun
from autotts.sandbox import CandidateFile, SandboxLimits

__all__ = ["AUDITED_CELLS", "audited_per_file", "shadow_audits"]

#: Most cells audited in all (one replicate each, in a worker of its own).
AUDITED_CELLS = 24


def audited_per_file(files: int, cells_per_file: int, total: int = AUDITED_CELLS) -> int:
    """How many cells of each file the check audits: ``total`` spread over the files, at
    least one per file, at most all of its cells."""
    return min(cells_per_file, max(1, -(-total // files)))


def shadow_audits(
    candidate: CandidateFile,
    replays: Sequence[ReplaySet],
    runs: dict[tuple[int, float], SandboxRun],
    protocol: EvaluationProtocol,
    limits: SandboxLimits | None,
    say: Callable[[str], None],
    cells: int = AUDITED_CELLS,
) -> CheckResult:
    """Audit :data:`AUDITED_CELLS` random cells of ``runs`` per file; raises
    ``CandidateRejected`` (``peeking``, ``nondeterministic``) on a difference."""
    policy = AuditPolicy(os.urandom(32), audits=1)
    records: list[dict[str, Any]] = []
    per_file = audited_per_file(len(replays), len(runs) // len(replays), cells)
    picked = []
    done: list[tuple[int, float, dict[str, Any]]] = []
    for i, replay in enumerate(replays):
        betas = sorted(beta for (file, beta) in runs if file == i)
        # Which cells: the key's choice, as secret as the replicates it picks.
        chosen = sorted(betas, key=lambda b: policy.seed(f"pick:{replay.name}:{b!r}"))
        picked.append(sorted(chosen[:per_file]))
    # Taking turns over the files, one shadow worker serves an audit of each file before a
    # new one starts (kept_workers.run_shadow: a shadow worker audits one cell per file).
    turns = [(i, b[k]) for k in range(per_file) for i, b in enumerate(picked) if k < len(b)]
    with keeping_workers():
        for i, beta in turns:
            replay = replays[i]
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
            done.append((i, beta, {"data": replay.name, "beta": beta, **record}))
    records += [record for _, _, record in sorted(done, key=lambda d: d[:2])]  # by file
    counterfactual = sum(shadow["counterfactual"] for r in records for shadow in r["shadows"])
    return CheckResult(
        "look-ahead",
        True,
        f"{len(records)} cells replayed in fresh processes, one replicate each, on data in "
        f"which everything not revealed was replaced ({counterfactual} counterfactual "
        "episodes): identical actions and answers",
        {
            "cells": records,
            "counterfactual_episodes": counterfactual,
            "p_catch_peeking_2pct": round(1 - 0.98**counterfactual, 4),
        },
    )
