"""``transfer.json``, typed: the selection per model × benchmark, beside the baseline it
is measured against (written by :func:`autotts.discovery.heldout.transfer_matrix`).

Follows the conventions of :mod:`autotts.discovery.records`: ``from_dict`` reads the
shapes older runs wrote (before the joint interval a group had only ``gain`` and
``ci95``), ``to_dict`` gives the file's keys back in their order, unknown keys kept in
``extra``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from autotts.discovery.records import _REQUIRED, _emit, _extra, _Item
from autotts.evaluation.paired_gain import PairedGain

__all__ = ["TransferCell", "TransferFile", "TransferGroup"]


def _pair(value: Any) -> tuple[float, float] | None:
    return None if value is None else (value[0], value[1])


@dataclass(frozen=True)
class TransferCell:
    """One model × benchmark. ``role`` ``"heldout"``: the selection on a held-out file,
    with its paired gain over the baseline and the bootstrap 95 % interval over the
    file's questions (all ``None`` without a baseline); ``"search"``: the selected
    round's search-set point at the selected β (in-sample, no baseline, no interval)."""

    model: str
    benchmark: str
    role: str
    model_searched: bool
    accuracy: float
    tokens: float
    baseline_accuracy: float | None = None
    baseline_tokens: float | None = None
    gain: float | None = None
    ci95: tuple[float, float] | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)
    key_order: tuple[str, ...] = field(default=(), compare=False, repr=False)

    _KEYS = (
        "model",
        "benchmark",
        "role",
        "model_searched",
        "accuracy",
        "tokens",
        "baseline_accuracy",
        "baseline_tokens",
        "gain",
        "ci95",
    )

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TransferCell:
        return cls(
            model=data["model"],
            benchmark=data["benchmark"],
            role=data["role"],
            model_searched=data["model_searched"],
            accuracy=data["accuracy"],
            tokens=data["tokens"],
            baseline_accuracy=data.get("baseline_accuracy"),
            baseline_tokens=data.get("baseline_tokens"),
            gain=data.get("gain"),
            ci95=_pair(data.get("ci95")),
            extra=_extra(data, cls._KEYS),
            key_order=tuple(data),
        )

    def to_dict(self) -> dict[str, Any]:
        compared = self.gain is not None
        ci = None if self.ci95 is None else list(self.ci95)
        head: list[_Item] = [
            ("model", self.model, True, _REQUIRED),
            ("benchmark", self.benchmark, True, _REQUIRED),
        ]
        role: list[_Item] = [
            ("role", self.role, True, _REQUIRED),
            ("model_searched", self.model_searched, True, _REQUIRED),
        ]
        point: list[_Item] = [
            ("accuracy", self.accuracy, True, _REQUIRED),
            ("tokens", self.tokens, True, _REQUIRED),
        ]
        # a search cell is the round's point with its role after it, as always written
        items = head + (point + role if self.role == "search" else role + point)
        items += [
            ("baseline_accuracy", self.baseline_accuracy, compared, None),
            ("baseline_tokens", self.baseline_tokens, compared, None),
            ("gain", self.gain, compared, None),
            ("ci95", ci, compared, None),
        ]
        return _emit(items, self.extra, self.key_order)


@dataclass(frozen=True)
class TransferGroup:
    """Held-out cells pooled (all of them; or the unseen models', the searched models'):
    the gain over the baseline with its intervals, ``p_not_positive`` left out."""

    name: str
    files: int
    gain: PairedGain
    extra: Mapping[str, Any] = field(default_factory=dict)
    key_order: tuple[str, ...] = field(default=(), compare=False, repr=False)

    _KEYS = ("name", "files", "gain", "ci95", "p_not_positive", "ci95_per_file")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TransferGroup:
        return cls(
            name=data["name"],
            files=data["files"],
            gain=PairedGain.from_dict(data),
            extra=_extra(data, cls._KEYS),
            key_order=tuple(data),
        )

    def to_dict(self) -> dict[str, Any]:
        gain = self.gain.to_dict()
        items: list[_Item] = [
            ("name", self.name, True, _REQUIRED),
            ("files", self.files, True, _REQUIRED),
        ]
        items += [(key, value, True, None) for key, value in gain.items()]
        return _emit(items, self.extra, self.key_order)


@dataclass(frozen=True)
class TransferFile:
    """``transfer.json``: the selection (``candidate`` at ``beta``) and the baseline of
    the held-out comparison (``None`` without one); the models and benchmarks in the
    table's order (searched first); the interval's description; the cells and groups."""

    candidate: str
    beta: float
    baseline: str | None
    search_models: tuple[str, ...]
    heldout_models: tuple[str, ...]
    models: tuple[str, ...]
    benchmarks: tuple[str, ...]
    interval: str
    cells: tuple[TransferCell, ...]
    groups: tuple[TransferGroup, ...]
    extra: Mapping[str, Any] = field(default_factory=dict)
    key_order: tuple[str, ...] = field(default=(), compare=False, repr=False)

    _KEYS = (
        "candidate",
        "beta",
        "baseline",
        "search_models",
        "heldout_models",
        "models",
        "benchmarks",
        "interval",
        "cells",
        "groups",
    )

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TransferFile:
        return cls(
            candidate=data["candidate"],
            beta=data["beta"],
            baseline=data.get("baseline"),
            search_models=tuple(data["search_models"]),
            heldout_models=tuple(data["heldout_models"]),
            models=tuple(data["models"]),
            benchmarks=tuple(data["benchmarks"]),
            interval=data.get("interval", ""),
            cells=tuple(TransferCell.from_dict(c) for c in data.get("cells", [])),
            groups=tuple(TransferGroup.from_dict(g) for g in data.get("groups", [])),
            extra=_extra(data, cls._KEYS),
            key_order=tuple(data),
        )

    def to_dict(self) -> dict[str, Any]:
        return _emit(
            [
                ("candidate", self.candidate, True, _REQUIRED),
                ("beta", self.beta, True, _REQUIRED),
                ("baseline", self.baseline, True, None),
                ("search_models", list(self.search_models), True, _REQUIRED),
                ("heldout_models", list(self.heldout_models), True, _REQUIRED),
                ("models", list(self.models), True, _REQUIRED),
                ("benchmarks", list(self.benchmarks), True, _REQUIRED),
                ("interval", self.interval, True, ""),
                ("cells", [c.to_dict() for c in self.cells], True, []),
                ("groups", [g.to_dict() for g in self.groups], True, []),
            ],
            self.extra,
            self.key_order,
        )
