"""A shadow model of one episode, written straight from docs/replay-protocol.md §2.

:mod:`autotts.env.checker` drives the environment and this model side by side and
compares every observation, so it keeps its own per-branch read positions, explore
charges and revealed answers, independent of :class:`~autotts.env.episode.Episode`.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

from autotts.data.records import ReplayQuestion
from autotts.env.mdp import Action, Answer, Branch, Continue, Observation, Probe, Prune

__all__ = ["ShadowEpisode", "close", "same"]


@dataclass
class ShadowEpisode:
    """Episode state kept the way §2 describes it, independent of :class:`Episode`."""

    question: ReplayQuestion
    order: tuple[int, ...]
    kappa: float
    budget: float | None
    depth: list[int] = field(default_factory=list)
    finished: list[bool] = field(default_factory=list)
    pruned: list[bool] = field(default_factory=list)
    by_explore: list[float] = field(default_factory=list)
    charged: list[float] = field(default_factory=list)
    revealed: dict[tuple[int, int], str] = field(default_factory=dict)
    cost: float = 0.0

    def fork(self) -> ShadowEpisode:
        return dataclasses.replace(
            self,
            depth=list(self.depth),
            finished=list(self.finished),
            pruned=list(self.pruned),
            by_explore=list(self.by_explore),
            charged=list(self.charged),
            revealed=dict(self.revealed),
        )

    def _open(self, i: int) -> bool:
        return 0 <= i < len(self.depth)

    def legal(self, action: Action) -> bool:
        """Allowed by the rules, ignoring the budget."""
        if isinstance(action, Branch):
            return len(self.depth) < len(self.order)
        if isinstance(action, Answer):
            return True
        i = action.branch
        if not self._open(i) or self.pruned[i]:
            return False
        if isinstance(action, Continue):
            return not self.finished[i]
        if isinstance(action, Probe):
            return self.depth[i] > 0 or self.finished[i]
        return True  # Prune

    def price(self, action: Action) -> float:
        """Tokens a legal ``action`` charges."""
        if isinstance(action, Continue):
            i = action.branch
            b = self.order[i]
            if action.to_end or self.depth[i] >= int(self.question.n_probes[b]):
                return max(0.0, float(self.question.tokens[b]) - self.by_explore[i])
            return float(self.question.probe_freq)
        if isinstance(action, Probe):
            return 0.0 if self._key(action.branch) in self.revealed else self._reveal_price
        return 0.0

    @property
    def _reveal_price(self) -> float:
        return self.kappa * self.question.probe_freq

    def affordable(self, action: Action) -> bool:
        return self.budget is None or self.cost + self.price(action) <= self.budget

    def admissible(self) -> set[Action]:
        universe = self.universe()
        return {a for a in universe if self.legal(a) and self.affordable(a)} | {Answer(None)}

    def universe(self) -> list[Action]:
        """Every non-answer action over branches ``-1 .. opened``."""
        actions: list[Action] = [Branch()]
        for i in range(-1, len(self.depth) + 1):
            actions += [Continue(i), Continue(i, to_end=True), Probe(i), Prune(i)]
        return actions

    def apply(self, action: Action) -> dict[str, Any]:
        """Apply a legal, affordable action; return what ``info`` must hold about it."""
        price = self.price(action)
        if isinstance(action, Branch):
            slot = len(self.depth)
            self.depth.append(0)
            self.finished.append(False)
            self.pruned.append(False)
            self.by_explore.append(0.0)
            self.charged.append(0.0)
            return {"branch": slot}
        if isinstance(action, Continue):
            i = action.branch
            self.by_explore[i] += price
            self._charge(i, price)
            if action.to_end or self.depth[i] >= int(self.question.n_probes[self.order[i]]):
                self.finished[i] = True
            else:
                self.depth[i] += 1
        elif isinstance(action, Probe):
            i = action.branch
            key = self._key(i)
            if key not in self.revealed:
                self._charge(i, price)
                self.revealed[key] = self._answer(i, key[1])
            return {"answer": self.revealed[key]}
        elif isinstance(action, Prune):
            self.pruned[action.branch] = True
        return {}

    def _charge(self, i: int, tokens: float) -> None:
        self.charged[i] += tokens
        self.cost += tokens

    def _key(self, i: int) -> tuple[int, int]:
        return (i, -1 if self.finished[i] else self.depth[i])

    def _answer(self, i: int, depth: int) -> str:
        b = self.order[i]
        q = self.question
        answer_id = q.final[b] if depth < 0 else q.steps[b, depth - 1]
        if depth > int(q.n_probes[b]):
            raise AssertionError(f"shadow model bug: depth {depth} beyond branch {i}'s probes")
        return q.answers[int(answer_id)]

    def check(self, obs: Observation, where: str, *, done: bool = False) -> None:
        """Assert ``obs`` is exactly what this state shows."""
        same(obs.opened, len(self.depth), f"{where}: opened")
        same(obs.depth, tuple(self.depth), f"{where}: depth")
        same(obs.finished, tuple(self.finished), f"{where}: finished")
        same(obs.pruned, tuple(self.pruned), f"{where}: pruned")
        same(obs.revealed, self.revealed, f"{where}: revealed answers")
        close(obs.cost_tokens, self.cost, f"{where}: cost_tokens")
        close(obs.cost_tokens, sum(self.charged), f"{where}: cost_tokens vs Σ per-branch charges")
        intervals = sum(self.depth) + sum(self.finished) + self.kappa * len(self.revealed)
        close(obs.cost_intervals, intervals, f"{where}: cost_intervals")
        if self.budget is not None and obs.cost_tokens > self.budget:
            raise AssertionError(
                f"{where}: cost {obs.cost_tokens:g} exceeds budget {self.budget:g}"
            )
        if len(set(obs.admissible)) != len(obs.admissible):
            raise AssertionError(f"{where}: admissible actions listed twice: {obs.admissible}")
        got, want = set(obs.admissible), set() if done else self.admissible()
        if got != want:
            raise AssertionError(
                f"{where}: admissible actions differ; listed but not admissible: "
                f"{sorted(map(repr, got - want))}; admissible but not listed: "
                f"{sorted(map(repr, want - got))}"
            )


def same(got: Any, want: Any, what: str) -> None:
    """Assert ``got == want``, naming ``what`` differs."""
    if got != want:
        raise AssertionError(f"{what}: got {got!r}, expected {want!r}")


def close(got: float, want: float, what: str) -> None:
    """Assert ``got`` and ``want`` are equal up to rounding, naming ``what`` differs."""
    if not math.isclose(got, want, rel_tol=1e-12, abs_tol=1e-9):
        raise AssertionError(f"{what}: got {got!r}, expected {want!r}")
