"""The replay environment as a formal MDP, in the shape of a Gymnasium ``Env``.

State: the branches opened so far, which of them are still active, each one's
depth (intervals of Δ tokens generated) and the answers revealed so far.
Actions: :class:`Branch`, :class:`Continue`, :class:`Probe`, :class:`Prune`,
:class:`Answer`. Every observation lists the admissible actions; any other action
raises :class:`~autotts.errors.InvalidAction` saying why. The cost of an episode is
``Σ depth + κ_probe·|revealed|`` in intervals and the tokens charged by
:class:`~autotts.env.episode.Episode` (the one place costs are computed); an
optional budget makes unaffordable actions inadmissible.

The reward is 1 for a correct :class:`Answer` and 0 otherwise; it needs the gold
answer, which only the caller that scores (never a controller) passes in.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from autotts.data.records import ReplayQuestion
from autotts.env.episode import Episode
from autotts.env.ordering import reference_order
from autotts.errors import EpisodeOver, InvalidAction

__all__ = [
    "Action",
    "Answer",
    "Branch",
    "Continue",
    "Observation",
    "Probe",
    "Prune",
    "ReplayEnv",
]


@dataclass(frozen=True)
class Branch:
    """Open the next branch of the pool (at depth 0)."""


@dataclass(frozen=True)
class Continue:
    """Generate the next Δ tokens of a branch (or all that is left, with ``to_end``)."""

    branch: int
    to_end: bool = False


@dataclass(frozen=True)
class Probe:
    """Reveal a branch's answer at its current depth (its final answer once finished)."""

    branch: int


@dataclass(frozen=True)
class Prune:
    """Drop a branch for good."""

    branch: int


@dataclass(frozen=True)
class Answer:
    """Stop and return ``answer``."""

    answer: str | None


Action = Branch | Continue | Probe | Prune | Answer


@dataclass(frozen=True)
class Observation:
    """What the agent sees after each step; revealed answers only, never the table."""

    opened: int
    depth: tuple[int, ...]
    finished: tuple[bool, ...]
    pruned: tuple[bool, ...]
    #: ``(branch, depth) -> answer`` for every revealed answer; depth -1 = final answer
    revealed: dict[tuple[int, int], str]
    cost_tokens: float
    cost_intervals: float
    admissible: tuple[Action, ...] = field(repr=False)

    @property
    def active(self) -> tuple[int, ...]:
        """Open branches that are neither finished nor pruned."""
        return tuple(i for i in range(self.opened) if not (self.finished[i] or self.pruned[i]))


class ReplayEnv:
    """One question's replay as an MDP: ``reset(seed=...)`` then ``step(action)``."""

    def __init__(
        self,
        question: ReplayQuestion,
        *,
        kappa_probe: float = 0.0,
        budget: float | None = None,
        gold: str | None = None,
    ) -> None:
        if budget is not None and budget < 0:
            raise InvalidAction(f"budget must be >= 0, got {budget}")
        self._question = question
        self._kappa = kappa_probe
        self._budget = budget
        self._gold = gold
        self._episode: Episode | None = None
        self._done = False

    def reset(
        self, *, seed: int | None = None, order: tuple[int, ...] | None = None
    ) -> tuple[Observation, dict[str, Any]]:
        """Start an episode with the reference shuffle of ``seed`` (or an explicit order)."""
        if order is None:
            order = reference_order(self._question.n_branches, 0 if seed is None else seed)
        self._episode = Episode(self._question, order, kappa_probe=self._kappa, budget=self._budget)
        self._done = False
        return self._observe(), {"pool_size": len(order)}

    def step(self, action: Action) -> tuple[Observation, float, bool, bool, dict[str, Any]]:
        """Apply ``action``; returns ``(obs, reward, terminated, truncated, info)``."""
        episode = self._require_episode()
        if self._done:
            raise EpisodeOver("the episode was answered; call reset() to start another")
        reward = 0.0
        info: dict[str, Any] = {}
        if isinstance(action, Branch):
            info["branch"] = episode.open_branch()
        elif isinstance(action, Continue):
            episode.advance(action.branch, action.to_end)
        elif isinstance(action, Probe):
            info["answer"] = episode.reveal(action.branch)
        elif isinstance(action, Prune):
            episode.prune(action.branch)
        elif isinstance(action, Answer):
            self._done = True
            correct = self._gold is not None and action.answer == self._gold
            reward = 1.0 if correct else 0.0
        else:
            raise InvalidAction(
                f"expected Branch, Continue, Probe, Prune or Answer, got {type(action).__name__}"
            )
        info["cost_tokens"] = episode.cost
        info["sequential_tokens"] = episode.sequential_cost
        return self._observe(), reward, self._done, False, info

    # -- internals ---------------------------------------------------------------
    def _require_episode(self) -> Episode:
        if self._episode is None:
            raise InvalidAction("call reset() before step()")
        return self._episode

    def _observe(self) -> Observation:
        episode = self._require_episode()
        revealed = {key: episode.revealed_answer(*key) for key in sorted(episode.revealed)}
        intervals: float = sum(episode.depth) + sum(episode.finished)
        intervals += self._kappa * len(episode.revealed)
        return Observation(
            opened=episode.opened,
            depth=tuple(episode.depth),
            finished=tuple(episode.finished),
            pruned=tuple(episode.pruned),
            revealed=revealed,
            cost_tokens=episode.cost,
            cost_intervals=intervals,
            admissible=() if self._done else self._admissible(episode),
        )

    def _admissible(self, episode: Episode) -> tuple[Action, ...]:
        actions: list[Action] = []
        if episode.opened < episode.pool_size:
            actions.append(Branch())
        for i in range(episode.opened):
            if episode.pruned[i]:
                continue
            if not episode.finished[i]:
                for to_end in (False, True):
                    if episode.affordable(episode.continue_cost(i, to_end)):
                        actions.append(Continue(i, to_end))
            if (episode.depth[i] > 0 or episode.finished[i]) and (
                episode.affordable(episode.reveal_cost(i))
            ):
                actions.append(Probe(i))
            actions.append(Prune(i))
        actions.append(Answer(None))
        return tuple(actions)
