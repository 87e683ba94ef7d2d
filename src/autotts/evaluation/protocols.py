"""Evaluation protocols: which episodes an evaluation replays.

An evaluation is ``R`` replicates × every question. A protocol fixes, for each
(replicate, question), the pool of branches the episode may open and their order.
Randomness lives here and only here, seeded explicitly, so the same protocol
always replays the same episodes.

* :class:`ReferenceProtocol` — the published one: replicate ``r`` shuffles each
  question's branches with ``random.Random(r)`` (seeds 0..99), string-equality scoring.
* :class:`SubsampleProtocol` — ``K`` random sub-pools of ``size`` branches per
  question (drawn without replacement, seeded), to see how a controller behaves
  with a smaller pool and how much its accuracy varies between pools.
* :class:`ReplicateSlice` — some replicates of another protocol: a seed block of a
  cell, a process's share of a split evaluation, a sample.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from autotts.env.ordering import reference_orders
from autotts.errors import UnknownName, UsageError

__all__ = [
    "EvaluationProtocol",
    "ReferenceProtocol",
    "ReplicateSlice",
    "SubsampleProtocol",
    "protocol_from_name",
]

IntArray = npt.NDArray[np.int64]


class EvaluationProtocol(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def replicates(self) -> int: ...

    def orders(self, n_branches: int, question: int) -> IntArray:
        """``[replicates, pool]`` branch orders of one question with ``n_branches`` branches."""
        ...

    def to_dict(self) -> dict[str, Any]: ...


@dataclass(frozen=True)
class ReferenceProtocol:
    """Seeds ``0..seeds-1``; each shuffles every question's full branch list."""

    seeds: int = 100
    name: str = "reference"

    def __post_init__(self) -> None:
        if self.seeds < 1:
            raise UsageError(f"reference protocol needs at least one seed, got {self.seeds}")

    @property
    def replicates(self) -> int:
        return self.seeds

    def orders(self, n_branches: int, question: int) -> IntArray:
        # The reference uses the same seed for every question of a replicate.
        return reference_orders(n_branches, range(self.seeds))

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "seeds": list(range(self.seeds))}


@dataclass(frozen=True)
class SubsampleProtocol:
    """``draws`` random pools of ``size`` branches per question, from ``seed``."""

    draws: int = 20
    size: int = 64
    seed: int = 0
    name: str = "subsample"

    def __post_init__(self) -> None:
        if self.draws < 2:
            raise UsageError(f"subsample protocol needs at least 2 draws, got {self.draws}")
        if self.size < 1:
            raise UsageError(f"subsample size must be >= 1, got {self.size}")

    @property
    def replicates(self) -> int:
        return self.draws

    def orders(self, n_branches: int, question: int) -> IntArray:
        if self.size > n_branches:
            raise UsageError(
                f"subsample size {self.size} exceeds question {question}'s {n_branches} branches"
            )
        rng = np.random.default_rng([self.seed, question])
        return np.stack(
            [rng.permutation(n_branches)[: self.size] for _ in range(self.draws)]
        ).astype(np.int64)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "draws": self.draws, "size": self.size, "seed": self.seed}


@dataclass(frozen=True)
class ReplicateSlice:
    """Replicates ``start..stop-1`` of another protocol (the same episodes, a subset)."""

    base: EvaluationProtocol
    start: int
    stop: int

    @property
    def name(self) -> str:
        return self.base.name

    @property
    def replicates(self) -> int:
        return self.stop - self.start

    def orders(self, n_branches: int, question: int) -> IntArray:
        return self.base.orders(n_branches, question)[self.start : self.stop]

    def to_dict(self) -> dict[str, Any]:
        return {**self.base.to_dict(), "replicates": [self.start, self.stop]}


def protocol_from_name(
    name: str, *, seeds: int = 100, draws: int = 20, size: int = 64, seed: int = 0
) -> EvaluationProtocol:
    if name == "reference":
        return ReferenceProtocol(seeds=seeds)
    if name == "subsample":
        return SubsampleProtocol(draws=draws, size=size, seed=seed)
    raise UnknownName("protocol", name, ["reference", "subsample"])
