"""``autotts serve``: a controller over an upstream model, as an OpenAI chat endpoint.

``POST /v1/chat/completions`` takes the last user message as the question, solves
it with the controller through :func:`~autotts.live.runtime.solve_live` against
the upstream completions server, and answers in the chat-completion shape: the
final answer as the message content, ``usage`` counting every token the upstream
reported for the request (trajectories, probes, cancelled prefetches), and an
extra top-level ``autotts`` object — ``answer``, ``tokens`` (trajectory tokens the
controller consumed, the replay protocol's cost), ``sequential_tokens`` (the
longest branch: what the user waited for), ``branches_used``, ``stop_reason``,
``beta``, ``controller``, ``budget``. Extra body fields: ``beta`` (β for this request),
``max_branches``, and the standard ``seed`` (reproducible branch sampling) and
``max_completion_tokens``/``max_tokens`` (the request's token cap). ``GET /v1/models``
lists the served name, ``GET /health`` answers ``ok``. Requests beyond ``max_concurrent``
wait; one taking longer than ``timeout`` is cancelled (504) with its upstream work, as is
one whose client disconnects. An upstream client error (4xx) comes back with its status,
other upstream failures as 502; ``n`` other than 1 is refused (400). Every request is
logged as one line on stderr.

``"stream": true`` answers with the OpenAI API's server-sent ``chat.completion.chunk``
events: the role at once, progress chunks (an empty delta and an ``autotts.progress``
field) and keep-alive comments while the controller works, then the answer, the finish
with the ``autotts`` object, the usage when ``stream_options.include_usage`` asks for it,
``data: [DONE]``. A failure once the stream has started is an ``error`` event and
``[DONE]``, as vLLM sends it.

The per-request budget (:class:`~autotts.live.runtime.RequestBudget`) is the request's
own caps within the server's ``max_tokens_per_request`` and ``max_branches`` (which are
also the defaults); the runtime enforces it.

A controller file not marked ``trusted`` runs in sandboxed worker processes
(:mod:`autotts.sandbox.live_client`): the episode and its model calls stay in this
process, the worker sees only what each read returns, and a controller that fails,
cheats or breaks the protocol fails its request with a 500, never the server.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import itertools
import sys
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from autotts.controllers.base import Controller
from autotts.controllers.registry import ControllerSpec, build, is_file_reference
from autotts.controllers.schedules import check_beta
from autotts.errors import AutoTTSError, LiveServerError, UsageError
from autotts.live.client import CompletionClient, UpstreamStatus
from autotts.live.http import error_response, read_json, sse_event, unknown_model
from autotts.live.prompts import render, resolve_template
from autotts.live.runtime import LiveProgress, LiveResult, RequestBudget, solve_live
from autotts.live.serve_config import ServeConfig, chat_question, request_budget, stream_options
from autotts.sandbox.layers import SandboxLimits
from autotts.sandbox.live_client import ControllerPool, SandboxedController

__all__ = ["ServeConfig", "serve_app"]

#: seconds without news after which a stream sends a keep-alive comment
KEEPALIVE_SECONDS = 10.0
#: seconds between two progress chunks of a stream, at least
PROGRESS_SECONDS = 0.25


def serve_app(config: ServeConfig) -> Any:
    """The ASGI app; the upstream client lives as long as the app (lifespan)."""
    # the live extra (starlette): imported with the app, under needs()
    from autotts.extras import needs

    with needs("live", "autotts serve"):
        from starlette.applications import Starlette
        from starlette.requests import Request
        from starlette.responses import JSONResponse, StreamingResponse
        from starlette.routing import Route

    resolve_template(config.template)
    config.check()
    # A bad name, file or β fails at start, not per request; a sandboxed file's first
    # worker is started here and kept for the first request.
    pool = _sandbox_pool(config)
    if pool is None:
        build(ControllerSpec(config.controller, beta=config.beta, trusted=config.trusted))
    else:
        pool.build(check_beta(config.beta))
    state: dict[str, Any] = {}
    ids = itertools.count()

    @contextlib.asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[None]:
        state["client"] = CompletionClient(
            config.upstream,
            config.model,
            config.sampling,
            concurrency=config.upstream_concurrency,
            timeout=config.timeout,
        )
        state["gate"] = asyncio.Semaphore(config.max_concurrent)
        # One controller thread per admitted request.
        state["threads"] = concurrent.futures.ThreadPoolExecutor(config.max_concurrent)
        try:
            yield
        finally:
            state["threads"].shutdown(wait=False, cancel_futures=True)
            await state["client"].close()
            if pool is not None:
                pool.close()

    async def health(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok", "model": config.name})

    async def models(request: Request) -> JSONResponse:
        entry = {"id": config.name, "object": "model", "created": 0, "owned_by": "autotts"}
        return JSONResponse({"object": "list", "data": [entry]})

    def parse(body: dict[str, Any]) -> _Job:
        """The request's settings; :class:`UsageError` (a 400) for any bad field."""
        stream, include_usage = stream_options(body)
        if body.get("n", 1) not in (1, None):
            raise UsageError(f"'n' must be 1 (one answer per request), got {body['n']!r}")
        question = chat_question(body.get("messages"))
        beta = body.get("beta", config.beta)
        if not isinstance(beta, (int, float)) or isinstance(beta, bool):
            raise UsageError(f"'beta' must be a number in [0, 1], got {beta!r}")
        seed = body.get("seed")
        if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool)):
            raise UsageError(f"'seed' must be an integer, got {seed!r}")
        budget = request_budget(body, config)
        if pool is None:
            spec = ControllerSpec(config.controller, beta=float(beta), trusted=config.trusted)
            controller: Controller = build(spec)
        else:  # built anew in its worker for each request, as build() does here
            controller = SandboxedController(pool, check_beta(float(beta)), None, {}, fresh=True)
        return _Job(question, float(beta), seed, budget, controller, stream, include_usage)

    async def solve(job: _Job, on_read: Callable[[LiveProgress], None] | None) -> LiveResult:
        """The controller's episode; waits for a free slot first (``max_concurrent``)."""
        async with state["gate"]:
            return await asyncio.wait_for(
                solve_live(
                    job.controller,
                    state["client"],
                    render(config.template, job.question),
                    delta=config.delta,
                    pool_size=config.pool_size,
                    max_tokens=config.max_tokens,
                    seed=job.seed,
                    prefetch=config.prefetch,
                    executor=state["threads"],
                    budget=job.budget,
                    on_read=on_read,
                ),
                config.timeout,
            )

    def summary(job: _Job, result: LiveResult) -> dict[str, Any]:
        """The reply's ``autotts`` object."""
        return {
            "answer": result.answer,
            "tokens": result.tokens,
            "sequential_tokens": result.sequential_tokens,
            "branches_used": result.branches_used,
            "stop_reason": result.stop_reason,
            "beta": job.beta,
            "controller": config.controller,
            "upstream_requests": result.usage.requests,
            "budget": {
                "max_tokens": job.budget.max_tokens,
                "max_branches": job.budget.max_branches,
                "completion_tokens": result.usage.completion_tokens,
                "tokens_hit": result.token_cap_hit,
                "branches_hit": result.branch_cap_hit,
            },
        }

    async def chat(request: Request) -> Any:
        try:
            body = await read_json(request)
            if (wrong_model := unknown_model(body, config.name)) is not None:
                return wrong_model
            job = parse(body)
        except AutoTTSError as exc:
            return error_response(400, str(exc))
        reply_id, created = f"chatcmpl-autotts-{next(ids)}", int(time.time())
        if job.stream:
            return StreamingResponse(
                stream(request, job, reply_id, created),
                media_type="text/event-stream",
                headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
            )
        work = asyncio.ensure_future(solve(job, None))
        if not await _finished_unless_disconnected(request, work):
            return error_response(499, "the client closed the request", "cancelled")
        try:
            result = work.result()
        except (TimeoutError, AutoTTSError) as exc:
            return error_response(*_failure(exc, config.timeout))
        return JSONResponse(
            {
                "id": reply_id,
                "object": "chat.completion",
                "created": created,
                "model": config.name,
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": result.answer or ""},
                        "finish_reason": _finish_reason(result),
                    }
                ],
                "usage": result.usage.to_openai(),
                "autotts": summary(job, result),
            }
        )

    async def stream(
        request: Request, job: _Job, reply_id: str, created: int
    ) -> AsyncIterator[str]:
        """The reply as OpenAI's server-sent events: a role chunk at once, progress chunks
        (empty deltas with an ``autotts.progress`` field) or keep-alive comments while the
        controller works, then the answer, the finish, usage if asked for, ``[DONE]``.

        The client leaving (or the stream being cancelled) cancels the episode and with it
        every upstream request in flight."""
        loop = asyncio.get_running_loop()
        changed = asyncio.Event()
        latest: list[LiveProgress] = []

        def noted(progress: LiveProgress) -> None:
            latest[:] = [progress]
            changed.set()

        def on_read(progress: LiveProgress) -> None:  # the controller's thread
            with contextlib.suppress(RuntimeError):  # the loop is gone: shutting down
                loop.call_soon_threadsafe(noted, progress)

        def chunk(choice: dict[str, Any] | None, **extra: Any) -> str:
            event: dict[str, Any] = {
                "id": reply_id,
                "object": "chat.completion.chunk",
                "created": created,
                "model": config.name,
                "system_fingerprint": None,
                "choices": [] if choice is None else [{"index": 0, "logprobs": None, **choice}],
            }
            if job.include_usage:  # OpenAI's shape: null on every chunk but the last
                event["usage"] = None
            event.update(extra)
            return sse_event(event)

        def delta(content: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
            return {"delta": content, "finish_reason": finish}

        work = asyncio.ensure_future(solve(job, on_read))
        gone = asyncio.ensure_future(_disconnect(request))
        try:
            yield chunk(delta({"role": "assistant", "content": ""}))
            shown = 0.0
            while not work.done():
                wake = asyncio.ensure_future(changed.wait())
                try:
                    await asyncio.wait(
                        {work, gone, wake},
                        timeout=KEEPALIVE_SECONDS,
                        return_when=asyncio.FIRST_COMPLETED,
                    )
                finally:
                    wake.cancel()
                if gone.done():
                    return
                if not changed.is_set():
                    # SSE comments: every client skips them, proxies see traffic.
                    yield ": keep-alive\n\n"
                    continue
                # Reads come fast over a fast upstream: at most one progress chunk per
                # PROGRESS_SECONDS, carrying where the episode stands by then.
                pause = shown + PROGRESS_SECONDS - loop.time()
                if pause > 0:
                    await asyncio.wait({work, gone}, timeout=pause)
                    if gone.done():
                        return
                changed.clear()
                shown = loop.time()
                progress = latest[0]
                yield chunk(
                    delta({}),
                    autotts={
                        "progress": {
                            "branches_used": progress.branches_used,
                            "tokens": progress.tokens,
                            "completion_tokens": progress.completion_tokens,
                        }
                    },
                )
            try:
                result = work.result()
            except (TimeoutError, AutoTTSError) as exc:
                # The status line went out with the first chunk: the error is an event
                # (the official client raises it as an APIError), then the stream ends.
                status, message, kind = _failure(exc, config.timeout)
                yield sse_event({"error": {"message": message, "type": kind, "code": status}})
                yield "data: [DONE]\n\n"
                return
            if result.answer:
                yield chunk(delta({"content": result.answer}))
            yield chunk(delta({}, _finish_reason(result)), autotts=summary(job, result))
            if job.include_usage:
                yield chunk(None, usage=result.usage.to_openai())
            yield "data: [DONE]\n\n"
        finally:
            gone.cancel()
            if not work.done():
                work.cancel()

    app = Starlette(
        routes=[
            Route("/health", health),
            Route("/v1/models", models),
            Route("/v1/chat/completions", chat, methods=["POST"]),
        ],
        lifespan=lifespan,
    )
    return _logged(app) if config.log_requests else app


def _logged(app: Any) -> Any:
    """``app`` writing one line per HTTP request to stderr: client, method, path, status,
    seconds. (uvicorn's access log is off with the quiet log level ``run_app`` uses.)"""

    async def logged(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        start, status = time.monotonic(), [500]  # 500: the app failed before answering

        async def send_status(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            await app(scope, receive, send_status)
        finally:
            client = scope.get("client") or ("-", 0)
            print(
                f"autotts serve: {client[0]} {scope['method']} {scope['path']} {status[0]} "
                f"{time.monotonic() - start:.3f} s",
                file=sys.stderr,
                flush=True,
            )

    return logged


def _sandbox_pool(config: ServeConfig) -> ControllerPool | None:
    """The kept sandboxed workers of an untrusted controller file (None: runs in process).

    A worker waits at most ``timeout`` for the controller between two reads, and is
    replaced well before its whole-life limit (:class:`ControllerPool`).
    """
    if config.trusted or not is_file_reference(config.controller):
        return None
    # start-up time: the sandbox's parent side loads for a controller file only
    from autotts.sandbox.candidate import read_candidate

    limits = SandboxLimits(
        episode_seconds=config.timeout, total_seconds=max(900.0, 4 * config.timeout)
    )
    return ControllerPool(read_candidate(config.controller), limits, keep=config.max_concurrent)


@dataclass(frozen=True)
class _Job:
    """One chat request, validated."""

    question: str
    beta: float
    seed: int | None
    budget: RequestBudget
    controller: Controller
    stream: bool
    include_usage: bool


def _finish_reason(result: LiveResult) -> str:
    """OpenAI's ``length`` when the token cap stopped the controller, else ``stop``."""
    return "length" if result.budget_stopped else "stop"


def _failure(exc: BaseException, timeout: float) -> tuple[int, str, str]:
    """``(status, message, type)`` of a request that failed while being solved."""
    if isinstance(exc, TimeoutError):
        return 504, f"no answer within {timeout:g} s", "timeout"
    if isinstance(exc, LiveServerError):
        # An upstream client error (a prompt past the context, a bad parameter) fails
        # again on a retry: it goes back as the same 4xx, which clients do not retry.
        # Anything else the upstream did wrong is this gateway's 502.
        status = exc.status if isinstance(exc, UpstreamStatus) else 502
        return (status if 400 <= status < 500 else 502), f"upstream: {exc}", "upstream_error"
    return 500, f"controller: {exc}", "controller_error"


async def _disconnect(request: Any) -> None:
    """Return once the client has gone (the body has been read: what comes next is the
    ``http.disconnect`` message, sent when the connection closes)."""
    while (await request.receive())["type"] != "http.disconnect":
        pass


async def _finished_unless_disconnected(request: Any, work: asyncio.Future[Any]) -> bool:
    """Wait for ``work``; if the client goes first, cancel it (and its upstream requests)
    and return False."""
    gone = asyncio.ensure_future(_disconnect(request))
    try:
        await asyncio.wait({work, gone}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        gone.cancel()
        finished = work.done()
        if not finished:
            work.cancel()
    return finished
