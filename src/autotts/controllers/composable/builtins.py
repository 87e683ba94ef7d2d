"""The hand-written built-ins as compositions of parts.

Each function gives the :class:`Knobs` that make the composed controller behave
exactly like the built-in at β (same answers, same tokens: the test suite checks
it on the public data). Both halves have one home each: the β schedule is the
built-in's ``from_beta`` (or :func:`cmc_schedule`), its settings as parts the
``*_knobs`` function beside it, which is also what the built-in's fast path runs.
"""

from __future__ import annotations

from collections.abc import Callable

from autotts.controllers.asc import AdaptiveConsistency, asc_knobs
from autotts.controllers.cmc import cmc_knobs, cmc_schedule
from autotts.controllers.composable.plain import Knobs
from autotts.controllers.esc import EarlyStoppingConsistency, esc_knobs
from autotts.controllers.parallel_probe import ParallelProbe, pp_knobs
from autotts.controllers.sc import SelfConsistency, sc_knobs

__all__ = ["COMPOSED_BUILTINS", "asc_parts", "cmc_parts", "esc_parts", "pp_parts", "sc_parts"]


def sc_parts(beta: float) -> Knobs:
    """SC: open n branches, read each to its end, majority vote."""
    return sc_knobs(SelfConsistency.from_beta(beta))


def asc_parts(beta: float) -> Knobs:
    """ASC: one full read per round until the Beta confidence exceeds the threshold."""
    return asc_knobs(AdaptiveConsistency.from_beta(beta))


def esc_parts(beta: float) -> Knobs:
    """ESC: windows of full reads; stop on a unanimous window."""
    return esc_knobs(EarlyStoppingConsistency.from_beta(beta))


def pp_parts(beta: float) -> Knobs:
    """Parallel-Probe: a lock-step cohort, prune off the latest majority, stop when stable."""
    return pp_knobs(ParallelProbe.from_beta(beta))


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
