"""check_env passes on the real environment and catches broken ones."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from autotts.data.loading import load_replay
from autotts.data.records import ReplayQuestion
from autotts.env import mdp
from autotts.env.checker import check_env, check_session_against_env
from autotts.env.episode import Episode
from autotts.errors import InvalidAction, UsageError
from tests.helpers import make_question, random_branches

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared"
REPLAY_FILE = SHARED / "data" / "replay" / "Qwen3-4B" / "aime24.json"

HAND_BUILT = {
    "one branch, no probes": make_question([([], 700, "x")]),
    "one branch, zero tokens": make_question([([], 0, "x")]),
    "spec example": make_question([([f"p{k}" for k in range(7)], 3403, "204"), (["a"], 900, "b")]),
    "overcharging probes": make_question([(["a", "b", "c"], 100, "d"), (["a"], 2000, "a")]),
    "random 9": make_question(random_branches(np.random.default_rng(1), 9)),
    "random 40": make_question(random_branches(np.random.default_rng(2), 40, alphabet=5)),
    "tiny Δ": make_question(random_branches(np.random.default_rng(3), 6), probe_freq=7),
}


@pytest.mark.parametrize("name", HAND_BUILT)
@pytest.mark.parametrize("seed", [0, 1])
def test_check_env_passes_on_hand_built_questions(name: str, seed: int) -> None:
    check_env(HAND_BUILT[name], seed=seed, steps=100)


@pytest.mark.parametrize("name", HAND_BUILT)
@pytest.mark.parametrize("seed", [0, 5])
def test_session_agrees_with_the_mdp_on_hand_built_questions(name: str, seed: int) -> None:
    check_session_against_env(HAND_BUILT[name], seed=seed, steps=150)


@pytest.fixture(scope="module")
def real_questions() -> tuple[ReplayQuestion, ...]:
    if not REPLAY_FILE.is_file():
        pytest.skip(f"shared replay data not found at {REPLAY_FILE}")
    return load_replay(REPLAY_FILE).questions[:2]


@pytest.mark.parametrize("index", [0, 1])
def test_check_env_passes_on_the_shipped_data(
    real_questions: tuple[ReplayQuestion, ...], index: int
) -> None:
    check_env(real_questions[index], seed=index)
    check_session_against_env(real_questions[index], seed=index)


def test_steps_must_be_positive() -> None:
    for check in (check_env, check_session_against_env):
        with pytest.raises(UsageError, match="steps must be >= 1"):
            check(HAND_BUILT["random 9"], steps=0)


def test_a_single_step_is_enough_to_run() -> None:
    check_env(HAND_BUILT["random 9"], steps=1)


# -- the checker catches broken environments -----------------------------------------------


def _final_charge_ignores_probes(monkeypatch: pytest.MonkeyPatch) -> None:
    def continue_cost(self: Episode, slot: int, to_end: bool = False) -> float:
        if to_end or self.depth[slot] >= self._n_probes[slot]:
            return float(self._tokens[slot])  # forgets what the probes charged
        return float(self.probe_freq)

    monkeypatch.setattr(Episode, "continue_cost", continue_cost)


def _failed_action_still_charges(monkeypatch: pytest.MonkeyPatch) -> None:
    original = Episode.advance

    def advance(self: Episode, slot: int, to_end: bool = False) -> None:
        try:
            original(self, slot, to_end)
        except InvalidAction:
            self.cost += 1
            raise

    monkeypatch.setattr(Episode, "advance", advance)


def _prune_missing_from_admissible(monkeypatch: pytest.MonkeyPatch) -> None:
    original = mdp.ReplayEnv._admissible

    def admissible(self: mdp.ReplayEnv, episode: Episode) -> tuple[mdp.Action, ...]:
        return tuple(a for a in original(self, episode) if not isinstance(a, mdp.Prune))

    monkeypatch.setattr(mdp.ReplayEnv, "_admissible", admissible)


def _reset_ignores_the_seed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(mdp, "reference_order", lambda n, seed: tuple(range(n)))


def _observation_leaks_unrevealed_finals(monkeypatch: pytest.MonkeyPatch) -> None:
    original = mdp.ReplayEnv._observe

    def observe(self: mdp.ReplayEnv) -> mdp.Observation:
        obs = original(self)
        obs.revealed.update({(i, -1): "leak" for i in range(obs.opened)})
        return obs

    monkeypatch.setattr(mdp.ReplayEnv, "_observe", observe)


def _kappa_not_charged(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Episode, "reveal_cost", lambda self, slot: 0)
    original = Episode.__init__

    def init(self: Episode, *args: Any, **kwargs: Any) -> None:
        kwargs["kappa_probe"] = 0.0
        original(self, *args, **kwargs)

    monkeypatch.setattr(Episode, "__init__", init)


def _answer_does_not_end_the_episode(monkeypatch: pytest.MonkeyPatch) -> None:
    original = mdp.ReplayEnv.step

    def step(self: mdp.ReplayEnv, action: mdp.Action) -> Any:
        out = original(self, action)
        self._done = False
        return out

    monkeypatch.setattr(mdp.ReplayEnv, "step", step)


MUTANTS: list[tuple[Callable[[pytest.MonkeyPatch], None], str]] = [
    (_final_charge_ignores_probes, "cost_tokens"),
    (_failed_action_still_charges, "cost_tokens"),
    (_prune_missing_from_admissible, "admissible actions differ"),
    (_reset_ignores_the_seed, "cost_tokens|revealed answers"),  # another branch is read
    (_observation_leaks_unrevealed_finals, "revealed answers"),
    (_kappa_not_charged, "kappa 0.5"),
    (_answer_does_not_end_the_episode, "after Answer"),
]


@pytest.mark.parametrize(("mutate", "message"), MUTANTS, ids=[m.__name__[1:] for m, _ in MUTANTS])
def test_check_env_catches_a_broken_environment(
    monkeypatch: pytest.MonkeyPatch, mutate: Callable[[pytest.MonkeyPatch], None], message: str
) -> None:
    question = make_question(random_branches(np.random.default_rng(7), 12, alphabet=6))
    check_env(question, seed=4, steps=60)  # passes before the mutation
    mutate(monkeypatch)
    with pytest.raises(AssertionError, match=message):
        check_env(question, seed=4, steps=60)


def test_session_check_catches_a_session_that_charges_differently(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    original = Episode.explore

    def explore(self: Episode, slot: int) -> tuple[str, bool]:
        answer, finished = original(self, slot)
        if finished:
            self.cost += 1  # re-reading a finished branch is not free any more
        return answer, finished

    monkeypatch.setattr(Episode, "explore", explore)
    with pytest.raises(AssertionError, match="session and MDP total cost"):
        check_session_against_env(HAND_BUILT["random 9"], seed=0)
