"""The online runtime: every registered controller, unchanged, gives through a live
server exactly its replay answers and costs; ending an episode cancels its work."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

from autotts.controllers.base import Controller
from autotts.controllers.registry import REGISTRY, ControllerSpec, build
from autotts.data.loading import load_replay
from autotts.env.session import Session
from autotts.errors import UsageError
from autotts.evaluation.protocols import ReferenceProtocol
from autotts.evaluation.runner import run_episodes
from autotts.live.client import CompletionClient, Sampling
from autotts.live.prompts import render
from autotts.live.runtime import (
    EpisodeClosed,
    LiveResult,
    RequestBudget,
    branch_seeds,
    solve_live,
)
from tests.live.fake_completions import Script, fake_server

SEEDS = 1


@pytest.mark.parametrize(
    ("name", "prefetch"), [(name, True) for name in sorted(REGISTRY)] + [("cmc", False)]
)
def test_every_controller_runs_live_as_in_replay(
    name: str, prefetch: bool, random_upstream: dict[str, Any]
) -> None:
    replay = load_replay(random_upstream["path"])
    controller = build(ControllerSpec(name, beta=0.5))
    table = run_episodes(controller, replay, ReferenceProtocol(seeds=SEEDS), vectorised=False)

    async def live() -> None:
        client = CompletionClient(random_upstream["url"], "R", concurrency=8)
        try:
            for r in range(SEEDS):
                for q, item in enumerate(random_upstream["document"]):
                    n = len(item["each_branch"])
                    result = await solve_live(
                        controller,
                        client,
                        render("plain", item["question"]),
                        pool_size=n,
                        seed=r,
                        prefetch=prefetch,
                        max_tokens=10**6,
                    )
                    assert replay.is_correct(q, result.answer) == table.correct[r, q]
                    assert result.tokens == table.cost[r, q], (name, r, q)
                    assert result.sequential_tokens == table.sequential_cost[r, q]
                    assert result.usage.completion_tokens >= result.tokens
        finally:
            await client.close()

    asyncio.run(live())


def test_branch_seeds_follow_the_reference_shuffle() -> None:
    assert branch_seeds(5, None) is None
    seeds = branch_seeds(12, 3)
    assert seeds is not None and sorted(seeds) == list(range(12)) and seeds != list(range(12))


class Stubborn(Controller):
    """Reads one branch forever (until the episode is closed under it)."""

    name = "stubborn"

    def __init__(self) -> None:
        self.stopped = threading.Event()
        self.error: BaseException | None = None

    def solve(self, session: Session) -> str | None:
        try:
            _, branch, _ = session.probe_new()
            while True:
                session.probe_more(branch)
                if not session.can_branch:
                    session.probe_new()
        except BaseException as exc:
            self.error = exc
            raise
        finally:
            self.stopped.set()


def test_a_timeout_closes_the_episode_and_stops_the_controller(
    random_upstream: dict[str, Any],
) -> None:
    item = random_upstream["document"][0]
    controller = Stubborn()

    async def live() -> int:
        client = CompletionClient(random_upstream["url"], "R")
        try:
            with pytest.raises(asyncio.TimeoutError):
                await asyncio.wait_for(
                    solve_live(
                        controller,
                        client,
                        render("plain", item["question"]),
                        pool_size=len(item["each_branch"]),
                        max_tokens=10**6,
                    ),
                    0.5,
                )
            # The controller thread ends promptly, and no request is made after it did.
            await asyncio.get_running_loop().run_in_executor(None, controller.stopped.wait, 10)
            before = client.usage.requests
            await asyncio.sleep(0.3)
            return client.usage.requests - before
        finally:
            await client.close()

    assert asyncio.run(live()) == 0
    assert controller.stopped.is_set()
    assert isinstance(controller.error, EpisodeClosed)


# -- the per-request budget ----------------------------------------------------------------
# The scripted server (trajectories of 400 tokens, probes disagreeing) honours max_tokens,
# as model servers do; Δ = 50, 8 branches: every controller spends far more than the caps
# below when it is not capped (checked), so each cap test fails without the enforcement.
BUDGET_SCRIPT = {"length": 400, "ending": "so \\boxed{7}", "probes": ("1}", "2}", "3}", "7}")}


def solve_capped(
    name: str, budget: RequestBudget | None, *, prefetch: bool = True, beta: float = 1.0
) -> LiveResult:
    async def live() -> LiveResult:
        with fake_server(Script(**BUDGET_SCRIPT)) as url:  # type: ignore[arg-type]
            client = CompletionClient(url, "m", Sampling(probe_tokens=8), concurrency=8)
            try:
                return await solve_live(
                    build(ControllerSpec(name, beta=beta)),
                    client,
                    "question: ",
                    delta=50,
                    pool_size=8,
                    max_tokens=400,
                    seed=0,
                    prefetch=prefetch,
                    budget=budget,
                )
            finally:
                await client.close()

    return asyncio.run(live())


@pytest.mark.parametrize(
    ("name", "prefetch"), [(name, True) for name in sorted(REGISTRY)] + [("cmc", False)]
)
def test_the_token_cap_holds_for_every_controller(name: str, prefetch: bool) -> None:
    cap = 1000  # two branches read to their end, and a bit
    free = solve_capped(name, None, prefetch=prefetch)
    assert free.usage.completion_tokens > 1.5 * cap and not free.token_cap_hit
    capped = solve_capped(name, RequestBudget(max_tokens=cap), prefetch=prefetch)
    assert 0 < capped.usage.completion_tokens <= cap
    assert capped.token_cap_hit and capped.budget.max_tokens == cap
    # Stopped or not, the controller answered with what its branches showed.
    assert capped.answer in {"1", "2", "3", "7"}
    if capped.budget_stopped:
        assert capped.stop_reason == "token cap"


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_the_branch_cap_holds_for_every_controller(name: str) -> None:
    free = solve_capped(name, None)
    assert free.branches_used > 2 and not free.branch_cap_hit
    capped = solve_capped(name, RequestBudget(max_branches=2))
    assert capped.branches_used == 2 and capped.branch_cap_hit
    assert capped.answer is not None and not capped.budget_stopped


class Reader(Controller):
    """Reads branch after branch to its end, never asking ``can_branch``: only the
    runtime can stop it."""

    name = "reader"

    def solve(self, session: Session) -> str | None:
        _, branch, finished = session.probe_new()
        while True:
            while not finished:
                _, finished = session.probe_more(branch)
            _, branch, finished = session.probe_new()


def test_a_controller_stopped_by_the_cap_is_answered_for() -> None:
    async def live() -> tuple[LiveResult, int]:
        with fake_server(Script(length=120, ending="so \\boxed{7}", probe="5}")) as url:
            client = CompletionClient(url, "m", Sampling(probe_tokens=8))
            try:
                result = await solve_live(
                    Reader(),
                    client,
                    "q: ",
                    delta=50,
                    pool_size=64,
                    budget=RequestBudget(max_tokens=500),
                )
                return result, client.usage.completion_tokens
            finally:
                await client.close()

    result, reported = asyncio.run(live())
    assert result.budget_stopped and result.stop_reason == "token cap"
    # Finished branches answered 7 (more of them than the one cut short, probed 5).
    assert result.answer == "7"
    assert reported == result.usage.completion_tokens <= 500
    assert result.branches_used >= 3


def test_request_budgets_must_be_positive() -> None:
    with pytest.raises(UsageError, match="max_tokens must be >= 1"):
        RequestBudget(max_tokens=0)
    with pytest.raises(UsageError, match="max_branches must be >= 1"):
        RequestBudget(max_branches=-1)
