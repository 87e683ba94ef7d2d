"""The hand-written built-ins as compositions of parts.

Each function gives the :class:`Knobs` that make the composed controller behave
exactly like the built-in at β (same answers, same tokens: the test suite checks
it on the public data).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from autotts.controllers.cmc import cmc_knobs, cmc_schedule
from autotts.controllers.composable.plain import Knobs
from autotts.controllers.schedules import budget_schedule

__all__ = ["COMPOSED_BUILTINS", "asc_parts", "cmc_parts", "esc_parts", "pp_parts", "sc_parts"]

#: Every full-read built-in: read a branch to its end when opened, no pruning, no warm-up.
_FULL_READS = Knobs(depth="full", prune="never", vote="completed", warm_up=0)


def sc_parts(beta: float) -> Knobs:
    """SC: open n branches, read each to its end, majority vote."""
    n = budget_schedule(beta)
    return replace(_FULL_READS, widen="never", stop="never", n_init=n, max_branches=n)


def asc_parts(beta: float, threshold: float = 0.95) -> Knobs:
    """ASC: one full read per round until the Beta confidence exceeds the threshold."""
    n = budget_schedule(beta)
    return replace(
        _FULL_READS, widen="always", widen_burst=1, stop="confidence", conf_thresh=threshold,
        n_init=1, max_branches=n,
    )  # fmt: skip


def esc_parts(beta: float) -> Knobs:
    """ESC: windows of full reads; stop on a unanimous window."""
    n = budget_schedule(beta)
    w = min(8, n)
    return replace(
        _FULL_READS, widen="always", widen_burst=w, stop="window", n_init=w,
        max_branches=(n // w) * w,
    )  # fmt: skip


def pp_parts(beta: float) -> Knobs:
    """Parallel-Probe: a lock-step cohort, prune off the latest majority, stop when stable."""
    n = budget_schedule(beta)
    return Knobs(
        widen="never", depth="burst", prune="latest", stop="stable", vote="latest",
        n_init=n, max_branches=n, burst_aligned=1, burst_other=1, patience=7,
        warm_up=15, T_stable=40, max_rounds=100,
    )  # fmt: skip


def cmc_parts(beta: float) -> Knobs:
    """CMC: its twelve settings at β, in the parts that carry them."""
    return cmc_knobs(cmc_schedule(beta))


#: Built-in name → its composition.
COMPOSED_BUILTINS: dict[str, Callable[[float], Knobs]] = {
    "sc": sc_parts,
    "asc": asc_parts,
    "esc": esc_parts,
    "parallel-probe": pp_parts,
    "cmc": cmc_parts,
}
