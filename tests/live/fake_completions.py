"""A scripted OpenAI-compatible completions server on loopback, in a thread.

What the replay server cannot do: refuse a prompt longer than the model's context (HTTP
400, in the words vLLM and OpenAI use), end a trajectory on an empty ``\\boxed{}``, and
show which prompts it was sent. One token is one whitespace-separated word.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from autotts.live.prompts import PROBE_SUFFIX


@dataclass
class Script:
    #: prompt + max_tokens above this: HTTP 400 "maximum context length"
    context: int = 10**9
    #: a trajectory stops by itself after this many tokens, ending on ``ending``
    length: int = 10**9
    ending: str = "\\boxed{}"
    #: what a probe decodes after the forced ``\\boxed{``
    probe: str = "7}"
    #: a probe's token log-probabilities, when the request asks for them (``logprobs``),
    #: from the trajectory's length so far in tokens (``None``: the server gives none)
    probe_logprobs: Callable[[int], list[float]] | None = None
    #: when given, probe ``i`` decodes ``probes[i % len(probes)]`` instead (disagreeing
    #: probes: a controller that waits for agreement keeps reading)
    probes: tuple[str, ...] = ()
    #: seconds each request takes (a slow model: time for a client to watch or leave)
    delay: float = 0.0
    prompts: list[str] = field(default_factory=list)


def _tokens(text: str) -> int:
    return len(text.split())


class _Handler(BaseHTTPRequestHandler):
    script: Script

    def log_message(self, *args: Any) -> None:  # quiet
        pass

    def _send(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client cancelled the request: nobody to answer

    def do_GET(self) -> None:
        self._send(200, {"object": "list", "data": [{"id": "m", "object": "model"}]})

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        prompt, max_tokens = body["prompt"], int(body["max_tokens"])
        script = self.script
        script.prompts.append(prompt)
        time.sleep(script.delay)
        used = _tokens(prompt)
        if used + max_tokens > script.context:
            message = (
                f"This model's maximum context length is {script.context} tokens. However, "
                f"you requested {used + max_tokens} tokens. Please reduce the length."
            )
            self._send(400, {"error": {"message": message, "type": "invalid_request_error"}})
            return
        logprobs = None
        if prompt.endswith(PROBE_SUFFIX):
            text, reason = script.probe, "stop"
            if script.probes:
                done = sum(p.endswith(PROBE_SUFFIX) for p in script.prompts) - 1
                text = script.probes[done % len(script.probes)]
            if body.get("logprobs") and script.probe_logprobs is not None:
                values = script.probe_logprobs(prompt.count(" ~"))
                # the legacy completions format: one entry per generated token
                logprobs = {
                    "tokens": text.split()[: len(values)],
                    "token_logprobs": values,
                    "top_logprobs": None,
                    "text_offset": list(range(len(values))),
                }
        else:
            done = prompt.count(" ~")
            left = script.length - done
            if left > max_tokens:
                text, reason = " ~" * max_tokens, "length"
            else:
                text, reason = " ~" * left + " " + script.ending, "stop"
        completion = min(_tokens(text), max_tokens)
        self._send(
            200,
            {
                "id": "c",
                "object": "text_completion",
                "created": 0,
                "model": body["model"],
                "choices": [
                    {"index": 0, "text": text, "finish_reason": reason, "logprobs": logprobs}
                ],
                "usage": {
                    "prompt_tokens": used,
                    "completion_tokens": completion,
                    "total_tokens": used + completion,
                },
            },
        )


@contextmanager
def fake_server(script: Script) -> Iterator[str]:
    """Serve ``script``; yields the ``/v1`` base URL."""
    handler = type("Handler", (_Handler,), {"script": script})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()
        server.server_close()
