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
  flight is cancelled — the live form of pruning the branches left behind;
* a :class:`RequestBudget` caps the episode: at most ``max_branches`` branches
  (``can_branch`` turns false, opening another raises :class:`NoMoreBranches`) and at
  most ``max_tokens`` completion tokens upstream, probes and prefetches included. Every
  request reserves its ``max_tokens`` before it is sent, so the cap holds whatever the
  requests in flight return; a read the rest cannot pay for raises
  :class:`BudgetExceeded` (a read to the end is cut to what is left). A controller
  stopped that way is answered for: the majority of the answers its branches last
  showed (:attr:`LiveResult.budget_stopped`).

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
import threading
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from autotts.controllers.base import Controller
from autotts.controllers.voting import majority
from autotts.data.loading import confidence_of
from autotts.env.ordering import reference_order
from autotts.env.session import Session, TraceStep
from autotts.errors import (
    AutoTTSError,
    BudgetExceeded,
    InvalidAction,
    LiveServerError,
    NoMoreBranches,
    UsageError,
)
from autotts.live.answers import ERR, parse_answer
from autotts.live.budget import RequestBudget, TokenLedger
from autotts.live.client import Chunk, CompletionClient, ProbeResult, Usage

__all__ = [
    "EpisodeClosed",
    "LiveEpisode",
    "LiveProgress",
    "LiveResult",
    "RequestBudget",
    "branch_seeds",
    "solve_live",
]


class EpisodeClosed(AutoTTSError):
    """The episode was ended (timeout or shutdown) while its controller was still reading."""


def branch_seeds(pool_size: int, seed: int | None) -> list[int] | None:
    """Per-branch sampling seeds for an episode seeded with ``seed``: the reference
    protocol's shuffle of ``0..pool_size-1``, so over a replay server (sample ``s`` is
    stored branch ``s``) the episode opens branches in the order its replay does."""
    return None if seed is None else list(reference_order(pool_size, seed))


@dataclass(frozen=True)
class LiveProgress:
    """Where an episode stands after a read (what a streaming client is shown)."""

    branches_used: int
    tokens: float
    completion_tokens: int


@dataclass
class _Branch:
    seed: int | None
    text: str = ""
    generated: int = 0
    charged: float = 0
    depth: int = 0
    finished: bool = False
    answer: str | None = None  # latest probe answer, or the final answer once finished
    #: exp of the latest probe's mean token log-probability (None: final, or none given)
    confidence: float | None = None
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
        budget: RequestBudget | None = None,
        on_read: Callable[[LiveProgress], None] | None = None,
    ) -> None:
        if delta < 1 or pool_size < 1 or max_tokens < 1:
            raise UsageError("delta, pool_size and max_tokens must be >= 1")
        budget = budget or RequestBudget()
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
        # close() (on the loop) against a request being sent (in the controller's thread):
        # a request is either sent before the episode closed, and cancelled by it, or not
        # sent at all.
        self._sending = threading.Lock()
        self._max_branches = budget.max_branches
        self._tokens = TokenLedger(budget.max_tokens)
        self._on_read = on_read
        self.cost: float = 0
        #: every token the server reported for this episode (chunks, probes, prefetches)
        self.usage = Usage()

    # -- EpisodeBackend ------------------------------------------------------------
    @property
    def opened(self) -> int:
        return len(self._branches)

    @property
    def pool_size(self) -> int:
        """Branches the controller may open: the pool, or fewer under the budget (a
        controller asks through ``can_branch``, which compares this with ``opened``)."""
        limit = self._pool
        if self._max_branches is not None:
            limit = min(limit, self._max_branches)
        if len(self._branches) < limit and not self._tokens.affords(self._step_need(0)):
            self._tokens.hit = True  # a branch more would not get its first read
            limit = len(self._branches)
        return limit

    @property
    def branch_cap_reached(self) -> bool:
        """The branch cap (not the pool) is what keeps another branch from opening."""
        cap = self._max_branches
        return cap is not None and cap < self._pool and len(self._branches) >= cap

    @property
    def token_cap_hit(self) -> bool:
        """The token cap refused or cut a read, or kept a branch from opening."""
        return self._tokens.hit

    @property
    def read_refused(self) -> bool:
        """The token cap refused the controller a read (it raised BudgetExceeded)."""
        return self._tokens.refused

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
        if len(self._branches) >= self.pool_size:
            if self.branch_cap_reached:
                raise NoMoreBranches(f"the request's cap of {self._max_branches} branches")
            raise NoMoreBranches("the request's token cap leaves too little for a new branch")
        slot = len(self._branches)
        self._branches.append(_Branch(None if self._seeds is None else self._seeds[slot]))
        return slot

    def advance(self, slot: int, to_end: bool = False) -> None:
        branch = self._live(slot)
        if to_end:
            self._cancel(branch)
            left = self._max_tokens - branch.generated
            self._check_running()
            # A read to the end gets what the cap leaves: a branch cut short, as at the
            # length limit, is still an answer the controller can vote with.
            grant = self._tokens.reserve_up_to(left)
            if grant == 0:
                raise self._refused(f"branch {slot}'s read to the end")
            if grant < left:
                self._tokens.hit = True
            self._send(branch, self._request(branch, grant, with_probe=False))
            chunk, _ = self._await_pending(branch)
            self._apply(branch, chunk, None, force_end=True)
            self._report()
            return
        if branch.pending is None:
            need = self._step_need(branch.generated)
            if not self._tokens.reserve(need):
                raise self._refused(f"the next {self._delta} tokens of branch {slot}")
            self._send(branch, self._request(branch, need, with_probe=True))
        chunk, probe = self._await_pending(branch)
        self._apply(branch, chunk, probe)
        self._report()
        if self._prefetch and not branch.finished:
            # Read ahead only with what the cap leaves: a prefetch never stops a read.
            need = self._step_need(branch.generated)
            if self._tokens.reserve(need):
                self._send(branch, self._request(branch, need, with_probe=True))

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

    def confidence(self, slot: int) -> float | None:
        """The confidence of the answer branch ``slot`` showed last (see
        :meth:`~autotts.env.session.Session.probe_confidence`): ``exp`` of its probe's
        mean token log-probability, which the server gives when the client's sampling
        asks probes for log-probabilities; ``None`` for a final answer or without one."""
        return self._open(slot).confidence  # None once finished: _apply clears it

    # -- lifetime -----------------------------------------------------------------
    def close(self) -> None:
        """End the episode: cancel every request in flight; later reads raise EpisodeClosed."""
        with self._sending:
            self._closed = True
            for branch in self._branches:
                self._cancel(branch)

    def progress(self) -> LiveProgress:
        return LiveProgress(len(self._branches), self.cost, self.usage.completion_tokens)

    def best_answer(self) -> str | None:
        """The majority of the answers the branches last showed (final or probed), ERR
        left out: the answer of a controller the budget stopped before it answered."""
        shown = [b.answer for b in self._branches if b.answer is not None and b.answer != ERR]
        return majority(shown)

    # -- internals -----------------------------------------------------------------
    def _step_need(self, generated: int) -> int:
        """Completion tokens a step at ``generated`` may take: its chunk and, unless the
        chunk reaches the length limit, the probe after it."""
        chunk = min(self._delta, self._max_tokens - generated)
        probe = self._client.sampling.probe_tokens if generated + chunk < self._max_tokens else 0
        return chunk + probe

    def _refused(self, what: str) -> BudgetExceeded:
        self._tokens.hit = self._tokens.refused = True
        return BudgetExceeded(
            f"the request's token cap ({self._tokens.cap}) leaves too little for {what}"
        )

    def _report(self) -> None:
        if self._on_read is not None:
            self._on_read(self.progress())

    async def _request(
        self, branch: _Branch, reserved: int, *, with_probe: bool
    ) -> tuple[Chunk, ProbeResult | None]:
        """The branch's next chunk (at most ``reserved`` tokens without a probe, else Δ)
        and, unless it ended, the probe after it; settles the reservation."""
        spent = Usage()
        done = False
        try:
            prefix = self._prompt + branch.text
            size = min(self._delta, self._max_tokens - branch.generated) if with_probe else reserved
            chunk = await self._client.chunk(prefix, size, seed=branch.seed, usage=spent)
            if (
                not with_probe
                or chunk.finished
                or branch.generated + chunk.tokens >= self._max_tokens
            ):
                done = True
                return chunk, None
            probe = await self._client.probe(prefix + chunk.text, usage=spent)
            done = True
            return chunk, probe
        finally:
            for name in ("prompt_tokens", "completion_tokens", "requests"):
                setattr(self.usage, name, getattr(self.usage, name) + getattr(spent, name))
            # A request cancelled or failed in flight may have generated up to its
            # allowance without saying so: it keeps all of its reservation.
            used = spent.completion_tokens if done else max(reserved, spent.completion_tokens)
            self._tokens.settle(reserved, used)

    def _apply(
        self, branch: _Branch, chunk: Chunk, probe: ProbeResult | None, *, force_end: bool = False
    ) -> None:
        branch.text += chunk.text
        branch.generated += chunk.tokens
        branch.charged += chunk.tokens
        self.cost += chunk.tokens
        if force_end or probe is None:
            branch.finished = True
            branch.answer = parse_answer(branch.text)
            branch.confidence = None
        else:
            branch.depth += 1
            branch.answer = probe.answer
            branch.confidence = confidence_of(probe.mean_logprob)

    def _send(
        self, branch: _Branch, coro: Coroutine[Any, Any, tuple[Chunk, ProbeResult | None]]
    ) -> None:
        """Start ``coro`` on the loop as the branch's pending request, unless the episode
        has been closed (then :class:`EpisodeClosed`)."""
        with self._sending:
            if self._closed:
                coro.close()
                raise EpisodeClosed("the episode was ended (timeout or shutdown)")
            branch.pending = asyncio.run_coroutine_threadsafe(coro, self._loop)

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
    budget: RequestBudget = field(default_factory=RequestBudget)
    #: the token cap refused or cut a read, or kept a branch from opening
    token_cap_hit: bool = False
    #: the controller opened as many branches as the branch cap allows
    branch_cap_hit: bool = False
    #: the controller was stopped by the token cap; ``answer`` is the branches' majority
    budget_stopped: bool = False


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
    budget: RequestBudget | None = None,
    on_read: Callable[[LiveProgress], None] | None = None,
) -> LiveResult:
    """Run ``controller`` on ``prompt`` against ``client``'s server; cancel what is left.

    Cancelling this coroutine (e.g. ``asyncio.wait_for`` timing out) closes the
    episode: in-flight requests are cancelled and the controller's next read raises
    :class:`EpisodeClosed`, ending its thread. ``on_read`` is called (in the
    controller's thread) after every read with where the episode stands.

    A controller that fails after the token cap refused it a read (it let the
    :class:`BudgetExceeded` through, or its sandboxed worker died of it) was stopped
    by the budget, not broken: the episode answers with :meth:`LiveEpisode.best_answer`.
    """
    loop = asyncio.get_running_loop()
    budget = budget or RequestBudget()
    episode = LiveEpisode(
        client,
        prompt,
        loop=loop,
        delta=delta,
        pool_size=pool_size,
        max_tokens=max_tokens,
        seeds=branch_seeds(pool_size, seed),
        prefetch=prefetch,
        budget=budget,
        on_read=on_read,
    )
    trace: list[TraceStep] = []
    session = Session(episode, trace)
    stopped = False
    try:
        answer = await loop.run_in_executor(executor, controller.solve, session)
    except (LiveServerError, EpisodeClosed):
        raise  # the upstream failed or the episode was ended: never the budget's doing
    except Exception:
        if not episode.read_refused:
            raise
        answer, stopped = episode.best_answer(), True
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
        stop_reason="token cap" if stopped else reason,
        usage=episode.usage,
        trace=trace,
        budget=budget,
        token_cap_hit=episode.token_cap_hit,
        branch_cap_hit=episode.branch_cap_reached,
        budget_stopped=stopped,
    )
