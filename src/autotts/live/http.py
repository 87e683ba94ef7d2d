"""Shared pieces of the two HTTP apps: OpenAI-style errors, JSON bodies, running uvicorn."""

from __future__ import annotations

import contextlib
import json
from typing import Any

from autotts.errors import UsageError
from autotts.extras import needs

__all__ = ["error_response", "read_json", "run_app", "sse_event", "unknown_model"]


def error_response(status: int, message: str, kind: str = "invalid_request_error") -> Any:
    """An error in the shape OpenAI clients parse: ``{"error": {"message", "type", "code"}}``."""
    with needs("live", "serving"):
        from starlette.responses import JSONResponse

    return JSONResponse(
        {"error": {"message": message, "type": kind, "code": status}}, status_code=status
    )


def unknown_model(body: dict[str, Any], served: str) -> Any | None:
    """The 404 for a request naming a model other than ``served``, the one model the app
    serves (a client asking for another must not silently get this one's answers);
    ``None`` when the request names it."""
    if body.get("model") == served:
        return None
    return error_response(404, f"model {body.get('model')!r} not found; this server has {served!r}")


def sse_event(data: dict[str, Any]) -> str:
    """One server-sent event carrying ``data`` as compact JSON (one line: JSON escapes
    newlines inside strings), as the OpenAI API streams its chunks."""
    return f"data: {json.dumps(data, separators=(',', ':'), ensure_ascii=False)}\n\n"


async def read_json(request: Any) -> dict[str, Any]:
    """The request's JSON object body; :class:`UsageError` if it is not one."""
    raw = await request.body()
    try:
        body = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise UsageError("the request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise UsageError("the request body must be a JSON object")
    return body


def run_app(app: Any, host: str, port: int, *, log_level: str = "warning") -> None:
    """Serve ``app`` until SIGINT/SIGTERM; in-flight requests finish first (clean shutdown)."""
    with needs("live", "serving"):
        import uvicorn
    config = uvicorn.Config(
        app, host=host, port=port, log_level=log_level, timeout_graceful_shutdown=30
    )
    server = uvicorn.Server(config)
    # uvicorn re-raises the SIGINT it handled after shutting down; stopping a server
    # on purpose is its normal end, so the command exits with status 0.
    with contextlib.suppress(KeyboardInterrupt):
        server.run()
