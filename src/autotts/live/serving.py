"""``autotts serve``: a controller over an upstream model, as an OpenAI chat endpoint.

``POST /v1/chat/completions`` takes the last user message as the question, solves
it with the controller through :func:`~autotts.live.runtime.solve_live` against
the upstream completions server, and answers in the chat-completion shape: the
final answer as the message content, ``usage`` counting every token the upstream
reported for the request (trajectories, probes, cancelled prefetches), and an
extra top-level ``autotts`` object — ``answer``, ``tokens`` (trajectory tokens the
controller consumed, the replay protocol's cost), ``sequential_tokens`` (the
longest branch: what the user waited for), ``branches_used``, ``stop_reason``,
``beta``, ``controller``. Extra body fields: ``beta`` (β for this request) and
the standard ``seed`` (reproducible branch sampling). ``GET /v1/models`` lists the
served name, ``GET /health`` answers ``ok``. Requests beyond ``max_concurrent``
wait; one taking longer than ``timeout`` is cancelled (504) with its upstream work. An
upstream client error (4xx) comes back with its status, other upstream failures as 502;
``n`` other than 1 is refused (400). Every request is logged as one line on stderr.

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
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from autotts.controllers.base import Controller
from autotts.controllers.registry import ControllerSpec, build, is_file_reference
from autotts.controllers.schedules import check_beta
from autotts.errors import AutoTTSError, LiveServerError, UsageError
from autotts.live.client import CompletionClient, Sampling, UpstreamStatus
from autotts.live.http import error_response, read_json
from autotts.live.prompts import render, resolve_template
from autotts.live.runtime import solve_live
from autotts.sandbox.layers import SandboxLimits
from autotts.sandbox.live_client import ControllerPool, SandboxedController

__all__ = ["ServeConfig", "serve_app"]


@dataclass(frozen=True)
class ServeConfig:
    upstream: str
    model: str
    controller: str = "cmc"
    beta: float = 0.5
    served_name: str | None = None
    template: str = "plain"
    delta: int = 500
    pool_size: int = 128
    max_tokens: int = 32768
    timeout: float = 600.0
    max_concurrent: int = 4
    upstream_concurrency: int = 16
    prefetch: bool = True
    sampling: Sampling = field(default_factory=Sampling)
    #: import a controller file into this process instead of sandboxing it
    trusted: bool = False
    #: write one line per request to stderr
    log_requests: bool = True

    @property
    def name(self) -> str:
        return self.served_name or self.model


def serve_app(config: ServeConfig) -> Any:
    """The ASGI app; the upstream client lives as long as the app (lifespan)."""
    # the live extra (starlette): imported with the app, under needs()
    from autotts.extras import needs

    with needs("live", "autotts serve"):
        from starlette.applications import Starlette
        from starlette.requests import Request
        from starlette.responses import JSONResponse
        from starlette.routing import Route

    resolve_template(config.template)
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

    async def chat(request: Request) -> Any:
        try:
            body = await read_json(request)
            if body.get("model") != config.name:
                return error_response(
                    404, f"model {body.get('model')!r} not found; this server has {config.name!r}"
                )
            if body.get("stream"):
                raise UsageError("streaming is not supported: the answer exists only at the end")
            if body.get("n", 1) not in (1, None):
                raise UsageError(f"'n' must be 1 (one answer per request), got {body['n']!r}")
            question = _question(body.get("messages"))
            beta = body.get("beta", config.beta)
            if not isinstance(beta, (int, float)) or isinstance(beta, bool):
                raise UsageError(f"'beta' must be a number in [0, 1], got {beta!r}")
            seed = body.get("seed")
            if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool)):
                raise UsageError(f"'seed' must be an integer, got {seed!r}")
            if pool is None:
                spec = ControllerSpec(config.controller, beta=float(beta), trusted=config.trusted)
                controller: Controller = build(spec)
            else:  # built anew in its worker for each request, as build() does here
                controller = SandboxedController(
                    pool, check_beta(float(beta)), None, {}, fresh=True
                )
        except AutoTTSError as exc:
            return error_response(400, str(exc))
        async with state["gate"]:
            try:
                result = await asyncio.wait_for(
                    solve_live(
                        controller,
                        state["client"],
                        render(config.template, question),
                        delta=config.delta,
                        pool_size=config.pool_size,
                        max_tokens=config.max_tokens,
                        seed=seed,
                        prefetch=config.prefetch,
                        executor=state["threads"],
                    ),
                    config.timeout,
                )
            except asyncio.TimeoutError:
                return error_response(504, f"no answer within {config.timeout:g} s", "timeout")
            except LiveServerError as exc:
                # An upstream client error (a prompt past the context, a bad parameter) fails
                # again on a retry: it goes back as the same 4xx, which clients do not retry.
                # Anything else the upstream did wrong is this gateway's 502.
                status = exc.status if isinstance(exc, UpstreamStatus) else 502
                code = status if 400 <= status < 500 else 502
                return error_response(code, f"upstream: {exc}", "upstream_error")
            except AutoTTSError as exc:
                return error_response(500, f"controller: {exc}", "controller_error")
        return JSONResponse(
            {
                "id": f"chatcmpl-autotts-{next(ids)}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": config.name,
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": result.answer or ""},
                        "finish_reason": "stop",
                    }
                ],
                "usage": result.usage.to_openai(),
                "autotts": {
                    "answer": result.answer,
                    "tokens": result.tokens,
                    "sequential_tokens": result.sequential_tokens,
                    "branches_used": result.branches_used,
                    "stop_reason": result.stop_reason,
                    "beta": float(beta),
                    "controller": config.controller,
                    "upstream_requests": result.usage.requests,
                },
            }
        )

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


def _question(messages: Any) -> str:
    """The text of the last user message (string content or a list of text parts)."""
    if not isinstance(messages, list) or not messages:
        raise UsageError("'messages' must be a non-empty list")
    for message in reversed(messages):
        if isinstance(message, dict) and message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, list):
                content = "".join(
                    part.get("text", "")
                    for part in content
                    if isinstance(part, dict) and part.get("type") == "text"
                )
            if isinstance(content, str) and content.strip():
                return content
            raise UsageError("the last user message has no text")
    raise UsageError("'messages' holds no user message")
