"""A local HTTP server speaking the OpenAI chat-completions and Anthropic Messages
protocols, answering from a script: replies, HTTP errors and rate limits.

Tests point the official clients at it with ``base_url``; nothing is patched.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["ScriptedLLMServer"]


class ScriptedLLMServer:
    """Each request takes the next script item:

    * ``{"reply": TEXT, "input_tokens": N, "output_tokens": M}`` — a normal answer;
    * ``{"status": CODE, "retry_after": "0"}`` — an error (429, 500, 529, 400, ...).

    When the script is used up every request gets HTTP 400 (not retried), so a test
    can never loop. ``requests`` records ``(path, headers, body)`` of each request.
    """

    def __init__(self, script: list[dict[str, Any]]) -> None:
        self.script = list(script)
        self.requests: list[tuple[str, dict[str, str], dict[str, Any]]] = []
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                body = json.loads(self.rfile.read(length) or b"{}")
                with server._lock:
                    server.requests.append(
                        (self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                    )
                    item = server.script.pop(0) if server.script else {"status": 400}
                anthropic = self.path.endswith("/messages")
                status = int(item.get("status", 200))
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
