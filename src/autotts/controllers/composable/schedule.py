"""β schedules with few free numbers: a candidate is a structure plus coefficients.

Every numeric knob follows ``lo + (hi - lo)·β^p`` when raising it spends more,
or ``hi - (hi - lo)·β^p`` when lowering it spends more, with ``lo ≤ hi`` and one
shared exponent ``p`` (integers are rounded, floats kept to 4 decimals). So every
knob moves toward more spending as β grows: monotone in spend by construction
(the search still measures it). The structure (which part fills each slot) does
not depend on β.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from autotts.controllers.composable.fast import FastParts
from autotts.controllers.composable.plain import Knobs

__all__ = ["KNOB_RANGES", "PART_CHOICES", "BetaSchedule", "Composed", "KnobRange"]


@dataclass(frozen=True)
class KnobRange:
    """The values a knob may take, and whether raising it spends more (+1) or less (-1)."""

    low: float
    high: float
    integer: bool
    spend: int  # +1: larger spends more; -1: smaller spends more; 0: no spend direction


#: Searchable numeric knobs.
KNOB_RANGES: dict[str, KnobRange] = {
    "n_init": KnobRange(1, 16, True, +1),
    "max_branches": KnobRange(2, 64, True, +1),
    "widen_burst": KnobRange(1, 4, True, +1),
    "trend_thresh": KnobRange(-0.05, 0.1, False, +1),
    "burst_aligned": KnobRange(1, 4, True, +1),
    "patience": KnobRange(1, 16, True, +1),
    "warm_up": KnobRange(0, 12, True, +1),
    "T_ema": KnobRange(2, 10, True, +1),
    "ema_alpha": KnobRange(0.1, 1.0, False, -1),
    "conf_thresh": KnobRange(0.5, 0.999, False, +1),
    "delta_slack": KnobRange(0.0, 0.1, False, -1),
    "min_complete": KnobRange(1, 12, True, +1),
    "T_stable": KnobRange(1, 20, True, +1),
    "short_power": KnobRange(0.0, 3.0, False, 0),
    # give up once this many branches are open (more: gives up later, spends more)
    "futile_after": KnobRange(4, 64, True, +1),
    # ... while the confidence is below this (lower: gives up less often, spends more)
    "futile_conf": KnobRange(0.3, 0.95, False, -1),
}

#: Part slots and the parts a search may put in them (the first is the neutral one).
PART_CHOICES: dict[str, tuple[str, ...]] = {
    "widen": ("never", "trend", "always"),
    "prune": ("never", "pool", "latest"),
    "stop": ("never", "momentum", "confidence", "stable"),
    "vote": ("completed", "short"),
    "give_up": ("never", "futile"),
    "confidence": ("counts", "weighted"),
}


@dataclass(frozen=True)
class BetaSchedule:
    """Structure (part per slot) + per-knob ``(lo, hi)`` + shared exponent ``power``.

    Knobs not in ``bounds`` keep the :class:`Knobs` defaults; a knob with no spend
    direction (``short_power``) stays at ``lo``.
    """

    parts: dict[str, str] = field(default_factory=dict)
    bounds: dict[str, tuple[float, float]] = field(default_factory=dict)
    power: float = 1.0

    def knobs(self, beta: float) -> Knobs:
        """Every setting at ``beta``."""
        b = min(1.0, max(0.0, float(beta)))
        values: dict[str, Any] = dict(self.parts)
        for name, (lo, hi) in self.bounds.items():
            spec = KNOB_RANGES[name]
            lo, hi = min(lo, hi), max(lo, hi)
            if spec.spend > 0:
                value = lo + (hi - lo) * b**self.power
            elif spec.spend < 0:
                value = hi - (hi - lo) * b**self.power
            else:
                value = lo
            values[name] = round(value) if spec.integer else round(value, 4)
        return replace(Knobs(), **values)

    def to_dict(self) -> dict[str, Any]:
        return {
            "parts": dict(self.parts),
            "bounds": {k: list(v) for k, v in self.bounds.items()},
            "power": self.power,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BetaSchedule:
        bounds = {str(k): (float(v[0]), float(v[1])) for k, v in data.get("bounds", {}).items()}
        return cls(dict(data.get("parts", {})), bounds, float(data.get("power", 1.0)))


class Composed(FastParts):
    """A composed controller from a :class:`BetaSchedule` (the search's candidates)."""

    name = "composed"

    def __init__(self, schedule: BetaSchedule, beta: float = 0.5) -> None:
        self.schedule = schedule
        super().__init__(beta)

    def knobs_at(self, beta: float) -> Knobs:
        return self.schedule.knobs(beta)
