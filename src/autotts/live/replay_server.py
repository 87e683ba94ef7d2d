"""``autotts replay-server``: a completions server over stored trajectories.

Speaks the OpenAI completions protocol for one model name (``/v1/models`` lists it,
``/v1/completions`` answers, ``/health`` says it is up) and answers from a
:class:`~autotts.live.replay_model.ReplayModel`; see that module for how a
request's prompt identifies question, branch and position.
"""

from __future__ import annotations

import itertools
import time
from typing import Any

from autotts.errors import UsageError
from autotts.extras import needs
from autotts.live.http import error_response, read_json, unknown_model
from autotts.live.replay_model import ReplayModel

__all__ = ["replay_app"]


def replay_app(model: ReplayModel) -> Any:
    """The ASGI app serving ``model``."""
    with needs("live", "the replay server"):
        from starlette.applications import Starlette
        from starlette.requests import Request
        from starlette.responses import JSONResponse
        from starlette.routing import Route

    ids = itertools.count()

    async def health(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok", "model": model.name, "questions": model.questions})

    async def models(request: Request) -> JSONResponse:
        entry = {"id": model.name, "object": "model", "created": 0, "owned_by": "autotts-replay"}
        return JSONResponse({"object": "list", "data": [entry]})

    async def completions(request: Request) -> Any:
        try:
            body = await read_json(request)
            if (wrong_model := unknown_model(body, model.name)) is not None:
                return wrong_model
            if body.get("stream"):
                raise UsageError("the replay server does not stream")
            if body.get("n", 1) != 1:
                raise UsageError("the replay server returns one choice per request (n=1)")
            prompt = body.get("prompt")
            if isinstance(prompt, list) and len(prompt) == 1:
                prompt = prompt[0]
            if not isinstance(prompt, str):
                raise UsageError("'prompt' must be one string")
            max_tokens = _optional_int(body, "max_tokens")
            seed = _optional_int(body, "seed")
            out = model.complete(prompt, max_tokens, seed)
        except UsageError as exc:
            return error_response(400, str(exc))
        return JSONResponse(
            {
                "id": f"cmpl-replay-{next(ids)}",
                "object": "text_completion",
                "created": int(time.time()),
                "model": model.name,
                "choices": [
                    {
                        "index": 0,
                        "text": out["text"],
                        "logprobs": _logprobs(out) if body.get("logprobs") else None,
                        "finish_reason": out["finish_reason"],
                    }
                ],
                "usage": {
                    "prompt_tokens": out["prompt_tokens"],
                    "completion_tokens": out["completion_tokens"],
                    "total_tokens": out["prompt_tokens"] + out["completion_tokens"],
                },
                "replay": out["replay"],
            }
        )

    return Starlette(
        routes=[
            Route("/health", health),
            Route("/v1/models", models),
            Route("/v1/completions", completions, methods=["POST"]),
        ]
    )


def _logprobs(out: dict[str, Any]) -> dict[str, Any] | None:
    """The completions API's ``logprobs`` object for a probe whose stored confidence is
    known: its text as one token with that log-probability (so the mean a client takes
    is the stored value); ``None`` where the data has none."""
    if out["logprob"] is None:
        return None
    return {
        "tokens": [out["text"]],
        "token_logprobs": [out["logprob"]],
        "top_logprobs": None,
        "text_offset": [0],
    }


def _optional_int(body: dict[str, Any], key: str) -> int | None:
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        raise UsageError(f"{key!r} must be an integer, got {value!r}")
    return value
