"""Controllers, unchanged, against a live model server.

:class:`LiveEpisode` implements :class:`~autotts.env.session.EpisodeBackend`, so a
:class:`~autotts.env.session.Session` — and every controller written against it —
drives a server instead of a replay table:

* continuing a branch asks for its next Δ tokens, a read probes the prefix with
  the forced-answer suffix, running to the end asks for everything left;
* cost is the server's reported ``completion_tokens`` of the trajectory chunks
  the controller consumed (the replay protocol charges the same quantity; probe
  tokens are counted in :attr:`LiveEpisode.usage`, with everything else spent);
* branches decode concurrently: once the controller has read a branch, its next
  chunk and probe are requested at once, while the controller reads the others,
  so the wait is the longest branch, not the sum (disable with ``prefetch=False``);
* when the episode ends (an answer, an error or a timeout) every request still in
  flight is cancelled — the live form of pruning the branches left behind.

The controller runs in a worker thread; requests run on the event loop the
episode was made on. A controller stays a pure policy: it never sees the loop. A
controller file not marked trusted reaches this module as the
:class:`~autotts.sandbox.live_client.SandboxedController` that ``build`` returns: its
code runs in a sandboxed worker process, and each of its reads comes back here as a
read of this episode's session.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any

from autotts.controllers.base import Controller
from autotts.env.ordering import reference_order
from autotts.env.session import Session, TraceStep
from autotts.errors import AutoTTSError, InvalidAction, NoMoreBranches, UsageError
from autotts.live.answers import parse_answer
from autotts.live.client import Chunk, CompletionClient, Usage

__all__ = ["EpisodeClosed", "LiveEpisode", "LiveResult", "branch_seeds", "solve_live"]


class EpisodeClosed(AutoTTSError):
    """The episode was ended (timeout or shutdown) while its controller was still reading."""


def branch_seeds(pool_size: int, seed: int | None) -> list[int] | None:
    """Per-branch sampling seeds for an episode seeded with ``seed``: the reference
    protocol's shuffle of ``0..pool_size-1``, so over a replay server (sample ``s`` is
    stored branch ``s``) the episode opens branches in the order its replay does."""
    return None if seed is None else list(reference_order(pool_size, seed))


@dataclass
class _Branch:
    seed: int | None
    text: str = ""
    generated: int = 0
    charged: float = 0
    depth: int = 0
    finished: bool = False
    answer: str | None = None  # latest probe answer, or the final answer once finished
    pending: concurrent.futures.Future[Any] | None = None


class LiveEpisode:
    """One question answered live; see the module docstring."""

    def __init__(
        self,
        client: CompletionClient,
        prompt: str,
        *,
        loop: asyncio.AbstractEventLoop,
        delta: int = 500,
        pool_size: int = 128,
        max_tokens: int = 32768,
        seeds: list[int] | None = None,
        prefetch: bool = True,
    ) -> None:
        if delta < 1 or pool_size < 1 or max_tokens < 1:
            raise UsageError("delta, pool_size and max_tokens must be >= 1")
        self._client = client
        self._prompt = prompt
        self._loop = loop
        self._delta = delta
        self._pool = pool_size
        self._max_tokens = max_tokens
        self._seeds = seeds
        self._prefetch = prefetch
        self._branches: list[_Branch] = []
        self._closed = False
        self.cost: float = 0
        #: every token the server reported for this episode (chunks, probes, prefetches)
        self.usage = Usage()

    # -- EpisodeBackend ------------------------------------------------------------
    @property
    def opened(self) -> int:
        return len(self._branches)

    @property
    def pool_size(self) -> int:
        return self._pool

    @property
    def probe_freq(self) -> int:
        return self._delta

    @property
    def sequential_cost(self) -> float:
        return max((b.charged for b in self._branches), default=0)

    def open_branch(self) -> int:
        self._check_running()
        if len(self._branches) >= self._pool:
            raise NoMoreBranches(f"all {self._pool} branches are open already")
        slot = len(self._branches)
        self._branches.append(_Branch(None if self._seeds is None else self._seeds[slot]))
        return slot

    def advance(self, slot: int, to_end: bool = False) -> None:
        branch = self._live(slot)
        if to_end:
            self._cancel(branch)
            left = self._max_tokens - branch.generated
            self._check_running()
            branch.pending = asyncio.run_coroutine_threadsafe(
                self._client.chunk(
                    self._prompt + branch.text, left, seed=branch.seed, usage=self.usage
                ),
                self._loop,
            )
            chunk = self._await_pending(branch)
            self._apply(branch, chunk, None, force_end=True)
            return
        if branch.pending is None:
            branch.pending = self._submit(self._step(branch))
        chunk, probe = self._await_pending(branch)
        self._apply(branch, chunk, probe)
        if self._prefetch and not branch.finished:
            branch.pending = self._submit(self._step(branch))

    def reveal(self, slot: int) -> str:
        branch = self._open(slot)
        if branch.answer is None:
            raise InvalidAction(f"branch {slot} has generated nothing yet: continue it first")
        return branch.answer

    def explore(self, slot: int) -> tuple[str, bool]:
        branch = self._open(slot)
        if not branch.finished:
            self.advance(slot)
        return self.reveal(slot), branch.finished

    # -- lifetime -----------------------------------------------------------------
    def close(self) -> None:
        """End the episode: cancel every request in flight; later reads raise EpisodeClosed."""
        self._closed = True
        for branch in self._branches:
            self._cancel(branch)

    # -- internals -----------------------------------------------------------------
    async def _step(self, branch: _Branch) -> tuple[Chunk, str | None]:
        """The branch's next chunk and, unless it ended, the probe after it."""
        budget = min(self._delta, self._max_tokens - branch.generated)
        prefix = self._prompt + branch.text
        chunk = await self._client.chunk(prefix, budget, seed=branch.seed, usage=self.usage)
        if chunk.finished or branch.generated + chunk.tokens >= self._max_tokens:
            return chunk, None
        probe = await self._client.probe(prefix + chunk.text, usage=self.usage)
        return chunk, probe.answer

    def _apply(
        self, branch: _Branch, chunk: Chunk, probe: str | None, *, force_end: bool = False
    ) -> None:
        branch.text += chunk.text
        branch.generated += chunk.tokens
        branch.charged += chunk.tokens
        self.cost += chunk.tokens
        if force_end or probe is None:
            branch.finished = True
            branch.answer = parse_answer(branch.text)
        else:
            branch.depth += 1
            branch.answer = probe

    def _submit(
        self, coro: Coroutine[Any, Any, tuple[Chunk, str | None]]
    ) -> concurrent.futures.Future[tuple[Chunk, str | None]]:
        return asyncio.run_coroutine_threadsafe(coro, self._loop)

    def _await_pending(self, branch: _Branch) -> Any:
        """Block on the branch's request; it stays cancellable by :meth:`close` meanwhile."""
        future = branch.pending
        assert future is not None
        try:
            return future.result()
        except concurrent.futures.CancelledError:
            raise EpisodeClosed("the episode was ended while a request was in flight") from None
        finally:
            branch.pending = None

    def _cancel(self, branch: _Branch) -> None:
        if branch.pending is not None:
            branch.pending.cancel()
            branch.pending = None

    def _check_running(self) -> None:
        if self._closed:
            raise EpisodeClosed("the episode was ended (timeout or shutdown)")

    def _open(self, slot: int) -> _Branch:
        self._check_running()
        if not isinstance(slot, int) or isinstance(slot, bool):
            raise InvalidAction(f"branch index must be an int, got {type(slot).__name__}")
        if not 0 <= slot < len(self._branches):
            raise InvalidAction(f"branch {slot} is not open ({len(self._branches)} open)")
        return self._branches[slot]

    def _live(self, slot: int) -> _Branch:
        branch = self._open(slot)
        if branch.finished:
            raise InvalidAction(f"branch {slot} is finished: it has nothing left to generate")
        return branch


@dataclass(frozen=True)
class LiveResult:
    """What one live episode did."""

    answer: str | None
    tokens: float
    sequential_tokens: float
    branches_used: int
    stop_reason: str
    usage: Usage = field(default_factory=Usage)
    trace: list[TraceStep] = field(default_factory=list)


async def solve_live(
    controller: Controller,
    client: CompletionClient,
    prompt: str,
    *,
    delta: int = 500,
    pool_size: int = 128,
    max_tokens: int = 32768,
    seed: int | None = None,
    prefetch: bool = True,
    executor: concurrent.futures.Executor | None = None,
) -> LiveResult:
    """Run ``controller`` on ``prompt`` against ``client``'s server; cancel what is left.

    Cancelling this coroutine (e.g. ``asyncio.wait_for`` timing out) closes the
    episode: in-flight requests are cancelled and the controller's next read raises
    :class:`EpisodeClosed`, ending its thread.
    """
    loop = asyncio.get_running_loop()
    episode = LiveEpisode(
        client,
        prompt,
        loop=loop,
        delta=delta,
        pool_size=pool_size,
        max_tokens=max_tokens,
        seeds=branch_seeds(pool_size, seed),
        prefetch=prefetch,
    )
    trace: list[TraceStep] = []
    session = Session(episode, trace)
    try:
        answer = await loop.run_in_executor(executor, controller.solve, session)
    finally:
        episode.close()
    if answer is not None and not isinstance(answer, str):
        raise AutoTTSError(f"{controller.name} returned {type(answer).__name__}, not a str")
    reason = next(
        (
            str(step["output"]["stop_reason"])
            for step in reversed(trace)
            if isinstance(step.get("output"), dict) and "stop_reason" in step["output"]
        ),
        "answered" if answer is not None else "no-answer",
    )
    return LiveResult(
        answer=answer,
        tokens=episode.cost,
        sequential_tokens=episode.sequential_cost,
        branches_used=episode.opened,
        stop_reason=reason,
        usage=episode.usage,
        trace=trace,
    )
