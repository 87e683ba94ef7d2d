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
from autotts.evaluation.protocols import ReferenceProtocol
from autotts.evaluation.runner import run_episodes
from autotts.live.client import CompletionClient
from autotts.live.prompts import render
from autotts.live.runtime import EpisodeClosed, branch_seeds, solve_live

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
