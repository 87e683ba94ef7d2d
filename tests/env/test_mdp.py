"""ReplayEnv: the Gymnasium-shaped MDP over one question."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from autotts.env.episode import Episode
from autotts.env.mdp import (
    Action,
    Answer,
    Branch,
    Continue,
    Observation,
    Probe,
    Prune,
    ReplayEnv,
)
from autotts.env.ordering import reference_order
from autotts.env.session import Session
from autotts.errors import BudgetExceeded, EpisodeOver, InvalidAction, NoMoreBranches
from tests.helpers import make_question, random_branches

#: branch 0: two probes, 1400 tokens; branch 1: no probes, 300 tokens; branch 2: long
QUESTION = make_question([(["a", "b"], 1400, "c"), ([], 300, "d"), (["e"] * 4, 2600, "f")])
ORDER = (0, 1, 2)


def _env(**kwargs: Any) -> tuple[ReplayEnv, Observation]:
    env = ReplayEnv(QUESTION, **kwargs)
    obs, _ = env.reset(order=ORDER)
    return env, obs


def _run(env: ReplayEnv, actions: list[Action]) -> Observation:
    obs = None
    for action in actions:
        obs = env.step(action)[0]
    assert obs is not None
    return obs


def test_reset_returns_an_empty_observation_and_the_pool_size() -> None:
    env = ReplayEnv(QUESTION)
    obs, info = env.reset(seed=3)
    assert info == {"pool_size": 3}
    assert (obs.opened, obs.depth, obs.finished, obs.pruned, obs.revealed) == (0, (), (), (), {})
    assert (obs.cost_tokens, obs.cost_intervals) == (0, 0)
    assert obs.admissible == (Branch(), Answer(None))
    assert obs.active == ()


def test_step_before_reset_is_invalid() -> None:
    with pytest.raises(InvalidAction, match=r"reset\(\) before step\(\)"):
        ReplayEnv(QUESTION).step(Branch())


def test_reset_seed_uses_the_reference_shuffle() -> None:
    question = make_question([([f"p{i}"], 600, f"f{i}") for i in range(8)])
    env = ReplayEnv(question)
    for seed in (0, 7):
        env.reset(seed=seed)
        answers = []
        for slot in range(8):
            env.step(Branch())
            env.step(Continue(slot))
            answers.append(env.step(Probe(slot))[4]["answer"])
        assert answers == [f"p{i}" for i in reference_order(8, seed)]
    assert ReplayEnv(question).reset()[0] == ReplayEnv(question).reset(seed=0)[0]


def test_step_returns_obs_reward_terminated_truncated_info() -> None:
    env, _ = _env()
    obs, reward, terminated, truncated, info = env.step(Branch())
    assert isinstance(obs, Observation)
    assert (reward, terminated, truncated) == (0.0, False, False)
    assert info == {"branch": 0, "cost_tokens": 0, "sequential_tokens": 0}


A, AC = {(0, 1): "a"}, {(0, 1): "a", (0, -1): "c"}
T, F = True, False
#: action, then depth, finished, pruned, revealed, cost_tokens and info extras after it
EFFECTS: list[tuple[Action, Any, Any, Any, Any, int, dict[str, Any]]] = [
    (Branch(), (0,), (F,), (F,), {}, 0, {"branch": 0}),
    (Continue(0), (1,), (F,), (F,), {}, 500, {}),
    (Probe(0), (1,), (F,), (F,), A, 500, {"answer": "a"}),
    (Probe(0), (1,), (F,), (F,), A, 500, {"answer": "a"}),
    (Continue(0), (2,), (F,), (F,), A, 1000, {}),
    (Continue(0), (2,), (T,), (F,), A, 1400, {}),  # no probe left: runs to the end
    (Probe(0), (2,), (T,), (F,), AC, 1400, {"answer": "c"}),
    (Branch(), (2, 0), (T, F), (F, F), AC, 1400, {"branch": 1}),
    (Continue(1), (2, 0), (T, T), (F, F), AC, 1700, {}),  # empty probe list
    (Branch(), (2, 0, 0), (T, T, F), (F, F, F), AC, 1700, {"branch": 2}),
    (Continue(2), (2, 0, 1), (T, T, F), (F, F, F), AC, 2200, {}),
    (Continue(2, to_end=True), (2, 0, 1), (T, T, T), (F, F, F), AC, 4300, {}),
    (Prune(1), (2, 0, 1), (T, T, T), (F, T, F), AC, 4300, {}),
]


def test_every_action_has_its_documented_effect() -> None:
    env, _ = _env()
    for action, depth, finished, pruned, revealed, cost, extra in EFFECTS:
        obs, reward, terminated, truncated, info = env.step(action)
        assert (obs.opened, obs.depth, obs.finished, obs.pruned) == (
            len(depth),
            depth,
            finished,
            pruned,
        ), action
        assert obs.revealed == revealed, action
        assert obs.cost_tokens == cost, action
        assert (reward, terminated, truncated) == (0.0, False, False)
        sequential = info.pop("sequential_tokens")
        assert info == {**extra, "cost_tokens": cost}
    assert sequential == 2600  # branch 2: 500, then the 2100 left in one go
    assert obs.active == ()


def test_admissible_actions_are_listed_in_the_observation() -> None:
    env, _ = _env()
    obs = _run(env, [Branch(), Branch(), Continue(0)])
    assert obs.admissible == (
        Branch(),
        Continue(0),
        Continue(0, to_end=True),
        Probe(0),
        Prune(0),
        Continue(1),
        Continue(1, to_end=True),
        Prune(1),
        Answer(None),
    )
    obs = _run(env, [Continue(1), Prune(0), Branch()])
    assert obs.admissible == (
        Probe(1),
        Prune(1),
        Continue(2),
        Continue(2, to_end=True),
        Prune(2),
        Answer(None),
    )
    assert obs.active == (2,)


#: (setup, illegal action, error, message)
ILLEGAL = [
    ([], Continue(0), InvalidAction, "branch 0 is not open"),
    ([], Probe(0), InvalidAction, "branch 0 is not open"),
    ([], Prune(0), InvalidAction, "branch 0 is not open"),
    ([Branch()], Continue(1), InvalidAction, r"branch 1 is not open \(open branches: 0..0\)"),
    ([Branch()], Continue(-1), InvalidAction, "branch -1 is not open"),
    ([Branch()], Probe(0), InvalidAction, "branch 0 has generated nothing yet"),
    ([Branch(), Branch(), Continue(1)], Continue(1), InvalidAction, "branch 1 is finished"),
    ([Branch(), Branch(), Continue(1)], Continue(1, to_end=True), InvalidAction, "branch 1 is fin"),
    ([Branch(), Prune(0)], Continue(0), InvalidAction, "branch 0 was pruned"),
    ([Branch(), Continue(0), Prune(0)], Probe(0), InvalidAction, "branch 0 was pruned"),
    ([Branch(), Prune(0)], Prune(0), InvalidAction, "branch 0 was pruned already"),
    ([Branch()] * 3, Branch(), NoMoreBranches, "all 3 branches are open"),
]


@pytest.mark.parametrize(("setup", "action", "error", "message"), ILLEGAL)
def test_illegal_actions_raise_a_precise_error_and_change_nothing(
    setup: list[Action], action: Action, error: type[Exception], message: str
) -> None:
    env, obs = _env()
    if setup:
        obs = _run(env, setup)
    assert action not in obs.admissible
    with pytest.raises(error, match=message):
        env.step(action)
    # the failed action left no trace: the same next step gives the same observation
    twin, _ = _env()
    for a in setup:
        twin.step(a)
    assert env.step(Answer(None))[0] == twin.step(Answer(None))[0]


def test_a_non_action_is_rejected_by_name() -> None:
    env, _ = _env()
    with pytest.raises(InvalidAction, match="expected Branch, Continue, Probe, Prune or Answer"):
        env.step("continue")  # type: ignore[arg-type]


# -- budget ------------------------------------------------------------------------------


def test_an_unaffordable_action_is_not_admissible_and_raises_budget_exceeded() -> None:
    env, _ = _env(budget=1200)
    obs = _run(env, [Branch(), Continue(0), Continue(0)])  # 1000 of 1200 used
    assert obs.cost_tokens == 1000
    assert Continue(0) not in obs.admissible  # 400 left to generate > 200
    assert Continue(0, to_end=True) not in obs.admissible
    assert Probe(0) in obs.admissible  # free with kappa 0
    with pytest.raises(BudgetExceeded, match="branch 0 would exceed the budget"):
        env.step(Continue(0))
    obs = _run(env, [Branch()])
    assert Continue(1) not in obs.admissible  # 300 > 200
    obs = _run(env, [Prune(1), Probe(0)])
    assert obs.cost_tokens == 1000
    assert obs.depth == (2, 0)


def test_a_reveal_past_the_budget_is_not_admissible_with_kappa() -> None:
    env, _ = _env(budget=700, kappa_probe=0.5)
    obs = _run(env, [Branch(), Continue(0)])
    assert Probe(0) not in obs.admissible  # 250 > 200 left
    with pytest.raises(BudgetExceeded):
        env.step(Probe(0))
    assert _run(env, [Prune(0)]).revealed == {}


def test_negative_budget_is_rejected() -> None:
    with pytest.raises(InvalidAction, match="budget must be >= 0"):
        ReplayEnv(QUESTION, budget=-1)


def test_admissible_and_budget_check_agree_with_fractional_reveal_prices() -> None:
    question = make_question([(["a"] * 10, 1000, "a")], probe_freq=1)
    env = ReplayEnv(question, kappa_probe=0.1, budget=4.4)
    env.reset(seed=0)
    obs = _run(env, [Branch()] + [Continue(0), Probe(0)] * 3 + [Continue(0)])
    listed = Probe(0) in obs.admissible
    try:
        env.step(Probe(0))
        succeeded = True
    except BudgetExceeded:
        succeeded = False
    assert listed == succeeded


# -- costs ---------------------------------------------------------------------------------


@pytest.mark.parametrize("kappa", [0.0, 0.5, 2.0])
def test_kappa_charges_each_newly_revealed_answer_once(kappa: float) -> None:
    env, _ = _env(kappa_probe=kappa)
    fee = kappa * 500
    steps: list[tuple[Action, float]] = [
        (Branch(), 0),
        (Continue(0), 500),
        (Probe(0), fee),
        (Probe(0), 0),  # re-reading: free
        (Continue(0), 500),
        (Probe(0), fee),
        (Continue(0), 400),
        (Probe(0), fee),
        (Probe(0), 0),
    ]
    cost = 0.0
    for action, charge in steps:
        obs = env.step(action)[0]
        cost += charge
        assert obs.cost_tokens == cost, action
    assert obs.cost_intervals == 2 + 1 + kappa * 3


def test_cost_intervals_are_depths_plus_finished_plus_kappa_per_reveal() -> None:
    env, _ = _env(kappa_probe=0.25)
    obs = _run(
        env,
        [Branch(), Continue(0), Probe(0), Branch(), Continue(1), Probe(1), Branch(), Continue(2)],
    )
    assert obs.depth == (1, 0, 1)
    assert obs.finished == (False, True, False)
    assert obs.cost_intervals == sum(obs.depth) + sum(obs.finished) + 0.25 * len(obs.revealed)
    assert obs.cost_intervals == 2 + 1 + 0.25 * 2


def test_cost_never_decreases_and_sequential_is_the_largest_branch() -> None:
    rng = np.random.default_rng(0)
    env, obs = _env(kappa_probe=0.5)
    last = (0.0, 0.0)
    for _ in range(40):
        choices = [a for a in obs.admissible if not isinstance(a, (Answer, Prune))]
        obs, _, _, _, info = env.step(choices[int(rng.integers(len(choices)))])
        assert (obs.cost_tokens, obs.cost_intervals) >= last
        last = (obs.cost_tokens, obs.cost_intervals)
    assert 0 < info["sequential_tokens"] <= obs.cost_tokens


# -- answering -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("gold", "answer", "reward"),
    [
        ("c", "c", 1.0),
        ("c", "d", 0.0),
        ("c", None, 0.0),
        (None, "c", 0.0),
        (None, None, 0.0),
        ("1", "1.0", 0.0),  # plain string equality, no normalisation
        ("c", " c", 0.0),
    ],
)
def test_answer_terminates_with_reward_only_for_the_gold(
    gold: str | None, answer: str | None, reward: float
) -> None:
    env, _ = _env(gold=gold)
    env.step(Branch())
    obs, r, terminated, truncated, info = env.step(Answer(answer))
    assert (r, terminated, truncated) == (reward, True, False)
    assert obs.admissible == ()
    assert info == {"cost_tokens": 0, "sequential_tokens": 0}


@pytest.mark.parametrize("action", [Answer("c"), Answer(None), Branch(), Continue(0), Probe(0)])
def test_every_step_after_answer_raises_episode_over(action: Action) -> None:
    env, _ = _env(gold="c")
    _run(env, [Branch(), Continue(0), Answer("c")])
    with pytest.raises(EpisodeOver, match=r"call reset\(\)"):
        env.step(action)
    obs, _ = env.reset(order=ORDER)
    assert obs.cost_tokens == 0
    assert env.step(Branch())[0].opened == 1


def test_revealed_only_holds_answers_that_were_probed() -> None:
    env, _ = _env()
    obs = _run(env, [Branch(), Continue(0), Continue(0), Branch(), Continue(1, to_end=True)])
    assert obs.revealed == {}
    obs = _run(env, [Probe(0)])
    assert obs.revealed == {(0, 2): "b"}


# -- the MDP and the Session agree --------------------------------------------------------


def _mdp_reads(
    question: Any, order: tuple[int, ...], reads: list[tuple[str, int]]
) -> tuple[list[tuple[str, bool]], float]:
    """Replay session reads as MDP actions: probe_new = Branch, Continue, Probe; etc."""
    env = ReplayEnv(question)
    obs, _ = env.reset(order=order)
    results = []
    for kind, slot in reads:
        if kind != "probe_more":
            obs = env.step(Branch())[0]
        if kind == "full_read":
            env.step(Continue(slot, to_end=True))
        elif not obs.finished[slot]:
            env.step(Continue(slot))
        obs, _, _, _, info = env.step(Probe(slot))
        results.append((info["answer"], obs.finished[slot]))
    return results, obs.cost_tokens


@pytest.mark.parametrize("seed", range(12))
def test_mdp_and_session_charge_the_same_for_the_same_reads(seed: int) -> None:
    rng = np.random.default_rng(seed)
    branches = random_branches(rng, 10)
    question = make_question(branches)
    order = reference_order(10, seed)
    session = Session(Episode(question, order))
    reads: list[tuple[str, int]] = []
    results: list[tuple[str, bool]] = []
    for _ in range(50):
        u = rng.random()
        if session.can_branch and u < 0.25:
            answer, slot, finished = session.probe_new()
            reads.append(("probe_new", slot))
        elif session.can_branch and u < 0.35:
            slot = session.branches_opened
            answer, finished = session.full_read(), True
            reads.append(("full_read", slot))
        elif session.branches_opened:
            slot = int(rng.integers(session.branches_opened))
            if ("full_read", slot) in reads:
                continue
            answer, finished = session.probe_more(slot)
            reads.append(("probe_more", slot))
        else:
            continue
        results.append((answer, finished))
    mdp_results, mdp_cost = _mdp_reads(question, order, reads)
    assert mdp_results == results
    assert mdp_cost == session.tokens_used
