"""A local HTTP server speaking the OpenAI chat-completions and Anthropic Messages
protocols, answering from a script: replies, HTTP errors and rate limits, streamed
replies (server-sent events, as ``stream: true`` asks) that may stall or never end,
and llama.cpp's ``/props`` and ``/tokenize``.

Tests point the official clients at it with ``base_url``; nothing is patched.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["ScriptedLLMServer"]


class ScriptedLLMServer:
    """Each request takes the next script item:

    * ``{"reply": TEXT, "input_tokens": N, "output_tokens": M}`` — a normal answer;
    * ``{"status": CODE, "retry_after": "0"}`` — an error (429, 500, 529, 400, ...).

    A streamed answer (the client asked for ``stream: true``) is sent four characters
    a chunk, ``"delay"`` seconds apart; ``"stall_after": K`` stops sending after K
    chunks for ``"stall"`` seconds; ``"endless": True`` keeps sending ``"x"`` until the
    client goes away, which is recorded in ``disconnects`` (seconds after the request).

    With ``n_ctx``, ``GET /props`` answers as llama.cpp's server does; with
    ``tokenize``, ``POST /tokenize`` counts one token per ``chars_per_token``
    characters. ``tokenize_calls`` counts those requests.

    When the script is used up every request gets HTTP 400 (not retried), so a test
    can never loop. ``requests`` records ``(path, headers, body)`` of each request.
    """

    def __init__(
        self,
        script: list[dict[str, Any]],
        *,
        n_ctx: int | None = None,
        tokenize: bool = False,
        chars_per_token: int = 4,
    ) -> None:
        self.script = list(script)
        self.requests: list[tuple[str, dict[str, str], dict[str, Any]]] = []
        self.disconnects: list[float] = []
        self.tokenize_calls = 0
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path == "/props" and n_ctx is not None:
                    self._json(200, {"default_generation_settings": {"n_ctx": n_ctx}})
                elif self.path == "/v1/models":
                    self._json(200, {"object": "list", "data": [{"id": "m", "object": "model"}]})
                else:
                    self._json(404, {"error": {"message": "not found"}})

            def _json(self, status: int, payload: Any) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                body = json.loads(self.rfile.read(length) or b"{}")
                if self.path == "/tokenize" and tokenize and "content" in body:
                    with server._lock:
                        server.tokenize_calls += 1
                    count = -(-len(body["content"]) // chars_per_token)
                    self._json(200, {"tokens": list(range(count))})
                    return
                if not self.path.endswith(("/chat/completions", "/messages")):
                    self._json(404, {"error": {"message": "not found"}})
                    return
                with server._lock:
                    server.requests.append(
                        (self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                    )
                    item = server.script.pop(0) if server.script else {"status": 400}
                anthropic = self.path.endswith("/messages")
                status = int(item.get("status", 200))
                if status == 200 and body.get("stream") and not anthropic:
                    self._stream(body, item)
                    return
                if status != 200:
                    payload = _error(anthropic, status)
                elif anthropic:
                    payload = _message(body, item)
                else:
                    payload = _completion(body, item)
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                if "retry_after" in item:
                    self.send_header("retry-after", str(item["retry_after"]))
                self.end_headers()
                self.wfile.write(data)

            def _stream(self, body: dict[str, Any], item: dict[str, Any]) -> None:
                started = time.monotonic()
                self.send_response(200)
                self.send_header("content-type", "text/event-stream")
                self.end_headers()  # HTTP/1.0: the stream ends when the connection does
                reply = str(item.get("reply", ""))
                pieces = [reply[i : i + 4] for i in range(0, len(reply), 4)]
                try:
                    sent = 0
                    while item.get("endless") or sent < len(pieces):
                        if sent == item.get("stall_after"):
                            time.sleep(float(item.get("stall", 0)))
                        piece = "x" if item.get("endless") else pieces[sent]
                        self._event(_chunk(body, {"content": piece}, None))
                        sent += 1
                        time.sleep(float(item.get("delay", 0)))
                    self._event(_chunk(body, {}, "stop"))
                    if (body.get("stream_options") or {}).get("include_usage"):
                        usage = _completion(body, item)["usage"]
                        self._event({**_chunk(body, {}, None), "choices": [], "usage": usage})
                    self.wfile.write(b"data: [DONE]\n\n")
                    self.wfile.flush()
                except (BrokenPipeError, ConnectionResetError):
                    with server._lock:
                        server.disconnects.append(time.monotonic() - started)

            def _event(self, payload: dict[str, Any]) -> None:
                self.wfile.write(b"data: " + json.dumps(payload).encode() + b"\n\n")
                self.wfile.flush()

            def log_message(self, format: str, *args: Any) -> None:
                pass  # keep test output clean

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> ScriptedLLMServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


def _completion(body: dict[str, Any], item: dict[str, Any]) -> dict[str, Any]:
    tokens_in, tokens_out = item.get("input_tokens", 100), item.get("output_tokens", 50)
    return {
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "created": 0,
        "model": body.get("model", ""),
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": item["reply"]},
                "finish_reason": "stop",
            }
        ],
        "usage": {
            "prompt_tokens": tokens_in,
            "completion_tokens": tokens_out,
            "total_tokens": tokens_in + tokens_out,
        },
    }


def _chunk(body: dict[str, Any], delta: dict[str, Any], finish: str | None) -> dict[str, Any]:
    return {
        "id": "chatcmpl-test",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": body.get("model", ""),
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }


def _message(body: dict[str, Any], item: dict[str, Any]) -> dict[str, Any]:
    content = [{"type": "text", "text": item["reply"]}] if item["reply"] else []
    return {
        "id": "msg_test",
        "type": "message",
        "role": "assistant",
        "model": body.get("model", ""),
        "content": content,
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {
            "input_tokens": item.get("input_tokens", 100),
            "output_tokens": item.get("output_tokens", 50),
        },
    }


def _error(anthropic: bool, status: int) -> dict[str, Any]:
    kind = {429: "rate_limit_error", 529: "overloaded_error"}.get(status, "api_error")
    if anthropic:
        return {"type": "error", "error": {"type": kind, "message": f"scripted {status}"}}
    return {"error": {"message": f"scripted {status}", "type": kind, "code": None}}
