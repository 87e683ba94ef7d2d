"""Check that the replay environment keeps its contract, like Gymnasium's ``env_checker``.

:func:`check_env` drives a :class:`~autotts.env.mdp.ReplayEnv` with random
admissible actions and compares every observation with a shadow model written
straight from docs/replay-protocol.md §2 (:mod:`autotts.env.shadow`: its own
per-branch read position, explore charges and revealed answers), so a disagreement
points at the step where the environment first went wrong.
:func:`check_session_against_env` does the same for the imperative
:class:`~autotts.env.session.Session`: each read must return what the equivalent
MDP actions return and cost the same.

Both raise :class:`AssertionError` with the seed, the step and the action; they
return ``None`` when every invariant held.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

import numpy as np

from autotts.data.records import ReplayQuestion
from autotts.env.episode import Episode
from autotts.env.mdp import (
    Action,
    Answer,
    Branch,
    Continue,
    Observation,
    Probe,
    ReplayEnv,
)
from autotts.env.ordering import reference_order
from autotts.env.session import Session
from autotts.env.shadow import ShadowEpisode
from autotts.env.shadow import close as _close
from autotts.env.shadow import same as _same
from autotts.errors import (
    BudgetExceeded,
    EpisodeOver,
    InvalidAction,
    NoMoreBranches,
    UsageError,
)

__all__ = ["check_env", "check_session_against_env"]

#: κ_probe of the budgeted run: a reveal then costs half an interval.
_KAPPA = 0.5
#: Per step: admissible actions tried on a copy, inadmissible ones tried for real.
_FORKS_PER_STEP = 2
_ILLEGAL_PER_STEP = 3
#: Relative weights of the action kinds the random agent picks among the admissible ones;
#: low prune and answer weights keep episodes long and branches alive.
_WEIGHTS = {"branch": 1.0, "step": 3.0, "to_end": 0.3, "probe": 2.0, "prune": 0.15}


def check_env(question: ReplayQuestion, *, seed: int = 0, steps: int = 200) -> None:
    """Drive :class:`ReplayEnv` over ``question`` with random actions; assert its contract.

    Checked, at every step: the observation (depths, finished and pruned flags,
    revealed answers, token and interval costs, admissible actions) equals the
    shadow model's; the chosen admissible action and a sample of other admissible
    ones succeed; a sample of inadmissible ones (unopened, negative, finished or
    pruned branches, probes at depth 0, ``Branch`` on an exhausted pool,
    unaffordable actions) raise :class:`InvalidAction` naming the branch, or
    :class:`BudgetExceeded`, and change nothing; costs never decrease; the
    sequential cost is the largest per-branch charge. At the end ``Answer``
    terminates with the right reward and every later step raises
    :class:`EpisodeOver`; replaying the actions after ``reset(seed=seed)``, on the
    same and on a fresh environment, gives identical results. A second run uses
    ``kappa_probe > 0`` and a budget that binds.
    """
    if steps < 1:
        raise UsageError(f"steps must be >= 1, got {steps}")
    rng = np.random.default_rng(seed)
    gold = question.answers[int(question.final[0])]

    fresh = ReplayEnv(question, gold=gold)
    _expect_raise(lambda: fresh.step(Branch()), InvalidAction, "step() before reset()")

    env = ReplayEnv(question, gold=gold)
    actions, outcomes = _drive(env, question, seed, steps, rng, kappa=0.0, budget=None, gold=gold)
    for name, replay_env in (
        ("the same env", env),
        ("a fresh env", ReplayEnv(question, gold=gold)),
    ):
        again = _replay(replay_env, seed, actions)
        if again != outcomes:
            first = next(i for i, (a, b) in enumerate(zip(again, outcomes)) if a != b)
            raise AssertionError(
                f"seed {seed}: replaying the same actions after reset(seed={seed}) on {name} "
                f"differs at step {first} ({actions[first]!r})"
            )

    budget = question.probe_freq * (steps // 4 + 0.25)
    _drive(
        ReplayEnv(question, kappa_probe=_KAPPA, budget=budget, gold=gold),
        question,
        seed + 1,
        steps,
        rng,
        kappa=_KAPPA,
        budget=budget,
        gold=gold,
    )


def check_session_against_env(question: ReplayQuestion, *, seed: int = 0, steps: int = 200) -> None:
    """Random ``probe_new``/``probe_more``/``full_read`` calls on a :class:`Session` match the MDP.

    ``probe_new`` is ``Branch, Continue(i), Probe(i)``; ``probe_more(i)`` is
    ``Continue(i), Probe(i)`` (only ``Probe(i)`` once ``i`` is finished);
    ``full_read`` is ``Branch, Continue(i, to_end=True), Probe(i)``. Each read must
    return the same answer and finished flag and leave both at the same total cost.
    Exhausted pools must raise :class:`NoMoreBranches` (an ``IndexError`` and a
    ``ValueError``) and reads of unopened branches :class:`InvalidAction`.
    """
    if steps < 1:
        raise UsageError(f"steps must be >= 1, got {steps}")
    rng = np.random.default_rng(seed)
    session = Session(Episode(question, reference_order(question.n_branches, seed)))
    env = ReplayEnv(question)
    obs, _ = env.reset(seed=seed)
    for t in range(steps):
        where = f"seed {seed}, read {t}"
        opened = session.branches_opened
        kind = ("probe_new", "probe_more", "full_read")[int(rng.choice(3, p=[0.3, 0.6, 0.1]))]
        if kind != "probe_more" and not session.can_branch:
            read = session.probe_new if kind == "probe_new" else session.full_read
            for error in (NoMoreBranches, IndexError, ValueError):
                _expect_raise(read, error, f"{where}: {kind}() on an exhausted pool")
            continue
        if kind == "probe_more" and opened == 0:
            continue
        if kind == "probe_new":
            answer, slot, finished = session.probe_new()
            _same(slot, opened, f"{where}: probe_new() returned branch index")
            obs, _, _, _, info = _step(env, Branch(), where)
            _same(info["branch"], slot, f"{where}: Branch() opened slot")
            obs, got = _explore(env, obs, slot, where)
        elif kind == "full_read":
            answer, slot, finished = session.full_read(), opened, True
            _step(env, Branch(), where)
            _step(env, Continue(slot, to_end=True), where)
            obs, _, _, _, info = _step(env, Probe(slot), where)
            got = (info["answer"], obs.finished[slot])
        else:
            slot = int(rng.integers(opened))
            answer, finished = session.probe_more(slot)
            obs, got = _explore(env, obs, slot, where)
        _same((answer, finished), got, f"{where}: {kind} on branch {slot} (answer, finished)")
        _close(session.tokens_used, obs.cost_tokens, f"{where}: session and MDP total cost")
        _same(session.branches_opened, obs.opened, f"{where}: branches opened")
        for bad in (session.branches_opened, -1):
            _expect_raise(
                partial(session.probe_more, bad),
                InvalidAction,
                f"{where}: probe_more({bad}) of an unopened branch",
                names=f"branch {bad}",
            )


# -- driving -------------------------------------------------------------------------

_Outcome = tuple[Observation, float, bool, bool, dict[str, Any]]


def _drive(
    env: ReplayEnv,
    question: ReplayQuestion,
    seed: int,
    steps: int,
    rng: np.random.Generator,
    *,
    kappa: float,
    budget: float | None,
    gold: str,
) -> tuple[list[Action], list[_Outcome]]:
    order = reference_order(question.n_branches, seed)
    shadow = ShadowEpisode(question, order, kappa, budget)
    shared = (question, order, question.token_list, *question.answer_strings)
    label = f"seed {seed}" + ("" if budget is None else f", kappa {kappa:g}, budget {budget:g}")
    reset = env.reset(seed=seed)
    if not (isinstance(reset, tuple) and len(reset) == 2 and isinstance(reset[0], Observation)):
        raise AssertionError(f"{label}: reset() must return (Observation, dict), got {reset!r}")
    obs, info = reset
    _same(info.get("pool_size"), question.n_branches, f"{label}: reset info pool_size")
    shadow.check(obs, f"{label}: after reset")
    actions: list[Action] = []
    outcomes: list[_Outcome] = []
    for t in range(steps):
        where = f"{label}, step {t}"
        _try_illegal(env, shadow, rng, where)
        candidates = [a for a in obs.admissible if not isinstance(a, Answer)]
        if not candidates or t == steps - 1:
            break
        for k in rng.permutation(len(candidates))[:_FORKS_PER_STEP]:
            other = candidates[int(k)]
            fork, fork_shadow = _fork(env, shared), shadow.fork()
            _checked_step(fork, fork_shadow, other, obs, f"{where}: admissible {other!r} on a copy")
        action = candidates[_pick(candidates, rng)]
        outcome = _checked_step(env, shadow, action, obs, f"{where}: {action!r}")
        actions.append(action)
        outcomes.append(outcome)
        obs = outcome[0]

    # Answer: a revealed answer (or none); the reward says whether it is the gold.
    revealed = sorted(set(obs.revealed.values()))
    choice = int(rng.integers(len(revealed) + 1))
    final = Answer(revealed[choice] if choice < len(revealed) else None)
    where = f"{label}: {final!r}"
    obs, reward, terminated, truncated, _ = outcome = _step(env, final, where)
    _same(
        (reward, terminated, truncated),
        (float(final.answer == gold), True, False),
        f"{where}: (reward, terminated, truncated) with gold {gold!r}",
    )
    _same(obs.admissible, (), f"{where}: admissible actions after Answer")
    shadow.check(obs, where, done=True)
    actions.append(final)
    outcomes.append(outcome)
    for after in (Answer(None), Branch(), Continue(0), Probe(0)):
        _expect_raise(partial(env.step, after), EpisodeOver, f"{where}: {after!r} after Answer")
    return actions, outcomes


def _checked_step(
    env: ReplayEnv, shadow: ShadowEpisode, action: Action, before: Observation, where: str
) -> _Outcome:
    expected = shadow.apply(action)
    outcome = _step(env, action, where)
    obs, reward, terminated, truncated, info = outcome
    _same(
        (reward, terminated, truncated),
        (0.0, False, False),
        f"{where}: (reward, terminated, truncated)",
    )
    shadow.check(obs, where)
    for key, value in expected.items():
        _same(info.get(key), value, f"{where}: info[{key!r}]")
    _close(info.get("cost_tokens", math.nan), obs.cost_tokens, f"{where}: info['cost_tokens']")
    _close(
        info.get("sequential_tokens", math.nan),
        max(shadow.charged, default=0.0),
        f"{where}: info['sequential_tokens'] vs the largest per-branch charge",
    )
    if obs.cost_tokens < before.cost_tokens or obs.cost_intervals < before.cost_intervals:
        raise AssertionError(f"{where}: cost decreased")
    return outcome


def _step(env: ReplayEnv, action: Action, where: str) -> _Outcome:
    try:
        outcome = env.step(action)
    except InvalidAction as exc:
        raise AssertionError(
            f"{where}: admissible action raised {type(exc).__name__}: {exc}"
        ) from exc
    if not (isinstance(outcome, tuple) and len(outcome) == 5):
        raise AssertionError(
            f"{where}: step() must return (obs, reward, terminated, truncated, info)"
        )
    obs, reward, terminated, truncated, info = outcome
    if not (
        isinstance(obs, Observation)
        and isinstance(reward, float)
        and isinstance(terminated, bool)
        and isinstance(truncated, bool)
        and isinstance(info, dict)
    ):
        raise AssertionError(
            f"{where}: step() returned types {[type(x).__name__ for x in outcome]}"
        )
    return outcome


def _try_illegal(
    env: ReplayEnv, shadow: ShadowEpisode, rng: np.random.Generator, where: str
) -> None:
    """Inadmissible actions raise the right error (the next observation shows no change)."""
    admissible = shadow.admissible()
    illegal = [a for a in shadow.universe() if a not in admissible]
    for k in rng.permutation(len(illegal))[:_ILLEGAL_PER_STEP]:
        action = illegal[int(k)]
        call = partial(env.step, action)
        if isinstance(action, Branch):
            _expect_raise(call, NoMoreBranches, f"{where}: {action!r} on an exhausted pool")
            continue
        if isinstance(action, Answer):  # never in the universe; narrows the type
            continue
        names = f"branch {action.branch}"
        if shadow.legal(action):
            _expect_raise(call, BudgetExceeded, f"{where}: unaffordable {action!r}", names)
            continue
        exc = _expect_raise(call, InvalidAction, f"{where}: illegal {action!r}", names)
        if isinstance(exc, BudgetExceeded):
            raise AssertionError(
                f"{where}: illegal {action!r} raised BudgetExceeded ({exc}), "
                "expected the rule it breaks"
            )
    _expect_raise(
        lambda: env.step("continue"),  # type: ignore[arg-type]
        InvalidAction,
        f"{where}: a string instead of an action",
    )


def _fork(env: ReplayEnv, shared: tuple[object, ...]) -> ReplayEnv:
    """An independent copy of ``env`` sharing the immutable objects in ``shared``."""
    # A fresh memo per copy (deepcopy records every copy in it and would reuse them);
    # seeding it with the question and its per-branch answer tuples keeps copies cheap.
    memo: dict[int, Any] = {id(obj): obj for obj in shared}
    return copy.deepcopy(env, memo)


def _replay(env: ReplayEnv, seed: int, actions: list[Action]) -> list[_Outcome]:
    env.reset(seed=seed)
    return [env.step(a) for a in actions]


def _pick(candidates: Sequence[Action], rng: np.random.Generator) -> int:
    weights = np.array([_WEIGHTS[_kind(a)] for a in candidates])
    return int(rng.choice(len(candidates), p=weights / weights.sum()))


def _kind(action: Action) -> str:
    if isinstance(action, Continue):
        return "to_end" if action.to_end else "step"
    return type(action).__name__.lower()


def _explore(
    env: ReplayEnv, obs: Observation, slot: int, where: str
) -> tuple[Observation, tuple[str, bool]]:
    """The MDP actions of one §2 ``explore(slot)``: continue unless finished, then probe."""
    if not obs.finished[slot]:
        _step(env, Continue(slot), where)
    obs, _, _, _, info = _step(env, Probe(slot), where)
    return obs, (info["answer"], obs.finished[slot])


def _expect_raise(
    call: Callable[[], object], error: type[Exception], what: str, names: str = ""
) -> Exception:
    try:
        call()
    except error as exc:
        if names and names not in str(exc):
            raise AssertionError(f"{what}: message {str(exc)!r} does not name {names!r}") from exc
        return exc
    except Exception as exc:
        raise AssertionError(
            f"{what}: expected {error.__name__}, got {type(exc).__name__}: {exc}"
        ) from exc
    raise AssertionError(f"{what}: expected {error.__name__}, nothing was raised")
