"""The client retries 429/5xx with back-off, and reports a persistent failure in one line."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from autotts.errors import LiveServerError
from autotts.live.client import CompletionClient
from tests.live.servers import free_port


def flaky_app(failures: int, status: int) -> tuple[Starlette, list[int]]:
    """Fails the first ``failures`` completions with ``status``, then answers."""
    seen: list[int] = []

    async def completions(request: Request) -> JSONResponse:
        seen.append(len(seen))
        if len(seen) <= failures:
            return JSONResponse(
                {"error": {"message": "busy"}}, status_code=status, headers={"retry-after-ms": "10"}
            )
        return JSONResponse(
            {
                "id": "x",
                "object": "text_completion",
                "created": 0,
                "model": "m",
                "choices": [
                    {"index": 0, "text": " 1 2 3", "finish_reason": "length", "logprobs": None}
                ],
                "usage": {"prompt_tokens": 4, "completion_tokens": 3, "total_tokens": 7},
            }
        )

    return Starlette(routes=[Route("/v1/completions", completions, methods=["POST"])]), seen


@pytest.fixture
def serve_in_thread() -> Iterator[Any]:
    servers: list[uvicorn.Server] = []

    def start(app: Starlette) -> str:
        port = free_port()
        server = uvicorn.Server(uvicorn.Config(app, port=port, log_level="error"))
        threading.Thread(target=server.run, daemon=True).start()
        deadline = time.monotonic() + 30
        while not server.started:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        servers.append(server)
        return f"http://127.0.0.1:{port}/v1"

    yield start
    for server in servers:
        server.should_exit = True


@pytest.mark.parametrize("status", [429, 500, 503])
def test_transient_errors_are_retried(serve_in_thread: Any, status: int) -> None:
    app, seen = flaky_app(2, status)
    url = serve_in_thread(app)

    async def call() -> Any:
        client = CompletionClient(url, "m", max_retries=3)
        try:
            return await client.chunk("prompt", 3)
        finally:
            await client.close()

    chunk = asyncio.run(call())
    assert (chunk.text, chunk.tokens, chunk.finished) == (" 1 2 3", 3, False)
    assert len(seen) == 3


def test_persistent_errors_end_in_one_line(serve_in_thread: Any) -> None:
    app, seen = flaky_app(100, 503)
    url = serve_in_thread(app)

    async def call() -> Any:
        client = CompletionClient(url, "m", max_retries=1)
        try:
            return await client.chunk("prompt", 3)
        finally:
            await client.close()

    with pytest.raises(LiveServerError, match="HTTP 503: busy"):
        asyncio.run(call())
    assert len(seen) == 2
