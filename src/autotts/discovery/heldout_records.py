"""``heldout.json``, typed; ``to_dict``/``from_dict`` give its JSON.

Two commands write a file of that name, in two shapes; :func:`read_heldout` says which
it holds:

* :class:`DiscoverHeldout`: ``autotts discover``'s, the selection and every table
  baseline per held-out file (:class:`HeldoutPoint`) and the selection's gain over the
  one at matched tokens (:class:`BaselineGain`).
* :class:`OptimizerHeldout`: ``autotts optimize``'s, gains per CMC operating point
  (:class:`BudgetGains`); only those are typed, its other keys are kept as read.

The gain records:

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
from dataclasses import dataclass, field
from typing import Any

from autotts.discovery.records import CurvePoint, _emit, _extra
from autotts.errors import UsageError
from autotts.evaluation.paired_gain import PairedGain

__all__ = [
    "BaselineGain",
    "BudgetGains",
    "DiscoverHeldout",
    "GainRow",
    "HeldoutPoint",
    "OptimizerHeldout",
    "read_heldout",
]


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

    def wins(self) -> bool:
        """Spends within CMC's tokens and gains with a 95 % lower bound (``ci95``: questions
        drawn jointly across models) above zero: the replacement rule at one budget."""
        return self.within_budget and self.gain.ci95[0] > 0

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


@dataclass(frozen=True)
class HeldoutPoint:
    """One method on one held-out file: a :class:`CurvePoint` with the method's label
    (the selection's, ``"round N: name"``, or a table baseline's) written first."""

    method: str
    point: CurvePoint

    def to_dict(self) -> dict[str, Any]:
        return {"method": self.method, **self.point.to_dict()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> HeldoutPoint:
        rest = {key: value for key, value in data.items() if key != "method"}
        return cls(str(data["method"]), CurvePoint.from_dict(rest))


@dataclass(frozen=True)
class DiscoverHeldout:
    """``autotts discover``'s ``heldout.json``.

    ``candidate`` is the selection's method label among the points; ``selection`` is
    ``selection.json``'s ``round``, ``beta`` and ``rule`` as read
    there; ``paired`` is ``None`` without a baseline to pair with, and missing in runs
    from before the paired interval (2026-11-29); ``files`` are the held-out files'
    provenance (store, model, benchmark, checksum).
    """

    candidate: str | None
    points: tuple[HeldoutPoint, ...]
    paired: BaselineGain | None = None
    selection: Mapping[str, Any] = field(default_factory=dict)
    protocol: Mapping[str, Any] | None = None
    files: tuple[Mapping[str, Any], ...] = ()
    extra: Mapping[str, Any] = field(default_factory=dict)
    key_order: tuple[str, ...] = field(default=(), compare=False, repr=False)

    _KEYS = ("selection", "paired", "candidate", "protocol", "files", "points")

    @property
    def selected(self) -> str:
        """The selection's method label (in a record without ``candidate``, the first)."""
        return self.candidate or next((p.method for p in self.points), "")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DiscoverHeldout:
        if "gains" in data:
            raise UsageError(
                "this heldout.json was written by 'autotts optimize' (gains per CMC budget), "
                "not by 'autotts discover': read it with read_heldout or OptimizerHeldout"
            )
        points = tuple(HeldoutPoint.from_dict(p) for p in data.get("points", []))
        paired = data.get("paired")
        return cls(
            candidate=data.get("candidate"),
            points=points,
            paired=None if paired is None else BaselineGain.from_dict(paired),
            selection=data.get("selection", {}),
            protocol=data.get("protocol"),
            files=tuple(data.get("files", [])),
            extra=_extra(data, cls._KEYS),
            key_order=tuple(data),
        )

    def to_dict(self) -> dict[str, Any]:
        paired = None if self.paired is None else self.paired.to_dict()
        return _emit(
            [
                ("selection", dict(self.selection), True, {}),
                ("paired", paired, True, None),
                ("candidate", self.candidate, True, None),
                ("protocol", None if self.protocol is None else dict(self.protocol), True, None),
                ("files", [dict(f) for f in self.files], True, []),
                ("points", [p.to_dict() for p in self.points], True, []),
            ],
            self.extra,
            self.key_order,
        )


@dataclass(frozen=True)
class OptimizerHeldout:
    """``autotts optimize``'s ``heldout.json``, as read: its gains per CMC operating point
    and its points (the winner's and CMC's curves, SC@64's) typed; its other keys
    (``files``, ``mean``, ``sc64``, ``selection``, ...) kept in ``extra``. It pairs with no
    single baseline, so ``paired`` and ``candidate`` are ``None``."""

    gains: tuple[BudgetGains, ...]
    points: tuple[HeldoutPoint, ...] = ()
    protocol: Mapping[str, Any] | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)
    key_order: tuple[str, ...] = field(default=(), compare=False, repr=False)

    _KEYS = ("gains", "points", "protocol")

    @property
    def paired(self) -> None:
        return None

    @property
    def candidate(self) -> None:
        return None

    @property
    def selected(self) -> str:
        """The first method among the points (the winner's)."""
        return next((p.method for p in self.points), "")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> OptimizerHeldout:
        return cls(
            gains=tuple(BudgetGains.from_dict(g) for g in data["gains"]),
            points=tuple(HeldoutPoint.from_dict(p) for p in data.get("points", [])),
            protocol=data.get("protocol"),
            extra=_extra(data, cls._KEYS),
            key_order=tuple(data),
        )

    def to_dict(self) -> dict[str, Any]:
        return _emit(
            [
                ("protocol", None if self.protocol is None else dict(self.protocol), True, None),
                ("points", [p.to_dict() for p in self.points], True, []),
                ("gains", [g.to_dict() for g in self.gains], True, None),
            ],
            self.extra,
            self.key_order,
        )


def read_heldout(data: Mapping[str, Any]) -> DiscoverHeldout | OptimizerHeldout:
    """A ``heldout.json`` as the record of the command that wrote it: the optimiser's
    has ``gains`` (per CMC budget), discover's has not."""
    if "gains" in data:
        return OptimizerHeldout.from_dict(data)
    return DiscoverHeldout.from_dict(data)
