"""The gain records of ``heldout.json``, typed; ``to_dict``/``from_dict`` give its JSON.

* :class:`BaselineGain`: an ``autotts discover`` run's ``paired``, the selection's gain
  over the baseline at matched tokens (:mod:`autotts.discovery.verdict`).
* :class:`GainRow` and :class:`BudgetGains`: an ``autotts optimize`` run's ``gains``
  (and each pick's in ``heldout_picks.json``), one :class:`BudgetGains` per CMC
  operating point, one :class:`GainRow` per β of the winner compared there.

Every gain is a :class:`~autotts.evaluation.paired_gain.PairedGain`, flattened into its
row as records have always been written. Records written before the joint interval
have no ``ci95_per_file`` and load as they are (their ``ci95`` drew file by file).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from autotts.evaluation.paired_gain import PairedGain

__all__ = ["BaselineGain", "BudgetGains", "GainRow"]


@dataclass(frozen=True)
class BaselineGain:
    """``heldout.json``'s ``paired``: the selection's gain over ``baseline``."""

    baseline: str
    gain: PairedGain

    def to_dict(self) -> dict[str, Any]:
        return {"baseline": self.baseline, **self.gain.to_dict()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> BaselineGain:
        return cls(str(data["baseline"]), PairedGain.from_dict(data))


@dataclass(frozen=True)
class GainRow:
    """One β of the winner at one of CMC's operating points, and its gain over CMC there."""

    beta: float
    #: the winner's mean accuracy (%) and tokens over the held-out files at ``beta``
    accuracy: float
    tokens: float
    #: spends no more tokens than CMC at this operating point
    within_budget: bool
    #: the β the search set chose for this budget
    search_choice: bool
    gain: PairedGain

    def to_dict(self) -> dict[str, Any]:
        return {
            "beta": self.beta,
            "accuracy": self.accuracy,
            "tokens": self.tokens,
            "within_budget": self.within_budget,
            "search_choice": self.search_choice,
            **self.gain.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> GainRow:
        return cls(
            beta=float(data["beta"]),
            accuracy=float(data["accuracy"]),
            tokens=float(data["tokens"]),
            within_budget=bool(data["within_budget"]),
            search_choice=bool(data["search_choice"]),
            gain=PairedGain.from_dict(data),
        )


@dataclass(frozen=True)
class BudgetGains:
    """One of CMC's operating points: its mean accuracy and tokens, and the winner's rows."""

    cmc_beta: float
    cmc_accuracy: float
    cmc_tokens: float
    candidates: tuple[GainRow, ...]

    def search_choices(self) -> list[GainRow]:
        """The rows at the β the search set chose for this budget."""
        return [row for row in self.candidates if row.search_choice]

    def to_dict(self) -> dict[str, Any]:
        return {
            "cmc_beta": self.cmc_beta,
            "cmc_accuracy": self.cmc_accuracy,
            "cmc_tokens": self.cmc_tokens,
            "candidates": [row.to_dict() for row in self.candidates],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> BudgetGains:
        return cls(
            cmc_beta=float(data["cmc_beta"]),
            cmc_accuracy=float(data["cmc_accuracy"]),
            cmc_tokens=float(data["cmc_tokens"]),
            candidates=tuple(GainRow.from_dict(row) for row in data["candidates"]),
        )
