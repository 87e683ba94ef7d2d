"""``baselines.json``, typed: the hand-crafted controllers' curves on the search set.

Follows the conventions of :mod:`autotts.discovery.records`: ``from_dict`` reads the
shapes older runs wrote (before 2026-11-29 a method had no ``digest``), ``to_dict``
gives the file's keys back in their order, unknown keys kept in ``extra``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from autotts.discovery.records import AggregatePoint, CurvePoint, _emit, _extra

__all__ = ["BaselineMethod", "BaselinesFile"]


@dataclass(frozen=True)
class BaselineMethod:
    """One baseline's curve: its points per (search file, β), their mean per β, and
    its trace digest (``""`` under ``--no-trace-digest``; missing in runs from before
    digests were kept)."""

    points: tuple[CurvePoint, ...]
    aggregate: tuple[AggregatePoint, ...]
    digest: str | None = ""
    extra: Mapping[str, Any] = field(default_factory=dict)
    key_order: tuple[str, ...] = field(default=(), compare=False, repr=False)

    _KEYS = ("points", "aggregate", "digest")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> BaselineMethod:
        return cls(
            points=tuple(CurvePoint.from_dict(p) for p in data.get("points", [])),
            aggregate=tuple(AggregatePoint.from_dict(a) for a in data.get("aggregate", [])),
            digest=data.get("digest"),
            extra=_extra(data, cls._KEYS),
            key_order=tuple(data),
        )

    def to_dict(self) -> dict[str, Any]:
        return _emit(
            [
                ("points", [p.to_dict() for p in self.points], True, []),
                ("aggregate", [a.to_dict() for a in self.aggregate], True, []),
                ("digest", self.digest, self.digest is not None, None),
            ],
            self.extra,
            self.key_order,
        )


@dataclass(frozen=True)
class BaselinesFile:
    """``baselines.json``: every baseline's :class:`BaselineMethod` by controller name,
    in the order they were evaluated, and the β grid they were evaluated on."""

    methods: Mapping[str, BaselineMethod]
    betas: tuple[float, ...]
    extra: Mapping[str, Any] = field(default_factory=dict)
    key_order: tuple[str, ...] = field(default=(), compare=False, repr=False)

    _KEYS = ("methods", "betas")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> BaselinesFile:
        return cls(
            methods={
                name: BaselineMethod.from_dict(method)
                for name, method in data.get("methods", {}).items()
            },
            betas=tuple(data.get("betas", [])),
            extra=_extra(data, cls._KEYS),
            key_order=tuple(data),
        )

    def to_dict(self) -> dict[str, Any]:
        return _emit(
            [
                ("methods", {n: m.to_dict() for n, m in self.methods.items()}, True, {}),
                ("betas", list(self.betas), True, []),
            ],
            self.extra,
            self.key_order,
        )
