"""``openai``: any OpenAI-compatible chat-completions endpoint, through the official client.

vLLM, SGLang, llama.cpp's server, Ollama and hosted APIs all speak it. The key
comes from an environment variable (``OPENAI_API_KEY`` unless ``--api-key-env``);
a local server given with ``--base-url`` needs none.

The reply is streamed, so the terminal shows it arriving and a stalled server is
noticed: no token for ``stall_timeout`` seconds (the read timeout of the HTTP
client) or no complete reply within ``timeout`` abandons the request, and leaving
the stream's ``with`` block — on those, on Ctrl-C, on any error — closes the
connection, which is how llama.cpp and vLLM learn to stop generating.

A local server (``--base-url``) is asked for its context window and tokenizer in
the dialects that have them: ``/v1/models`` (vLLM's ``max_model_len``, llama.cpp's
``meta``), llama.cpp's ``/props`` and ``/tokenize``, llama-cpp-python's
``/extras/tokenize/count``, Ollama's ``/api/show``.
"""

from __future__ import annotations

import importlib
import re
import time
from typing import Any

import httpx

from autotts.discovery.proposers.base import Progress
from autotts.discovery.proposers.llm import Abandoned, ChatProposer, RetryableError
from autotts.extras import needs

__all__ = ["OpenAIProposer"]

#: Ollama's context window when a model sets no ``num_ctx`` (its documented default).
OLLAMA_DEFAULT_CTX = 4096
#: Seconds a question about the server (window, tokenizer) may take.
PROBE_TIMEOUT = 10.0


class OpenAIProposer(ChatProposer):
    kind = "openai"
    default_key_env = "OPENAI_API_KEY"

    def __init__(self, model: str, **options: Any) -> None:
        super().__init__(model, **options)
        with needs("llm", "the openai proposer"):
            import openai
        key = self._api_key()
        self._openai = openai
        # The HTTP library the client is built on (httpx, or httpx2 in openai 3): its
        # errors reach us unwrapped when they happen while a stream is read.
        self._transport: Any = importlib.import_module(
            openai.DefaultHttpxClient.__mro__[-2].__module__.split(".")[0]
        )
        # Retries are ours (recorded per attempt), so the client's own are off. The read
        # timeout is the stall limit: it bounds the wait for each piece of the stream.
        self._client = openai.OpenAI(
            api_key=key or "not-needed",
            base_url=self.base_url,
            max_retries=0,
            timeout=openai.Timeout(self.stall_timeout, connect=min(30.0, self.stall_timeout)),
        )
        self._headers = {"authorization": f"Bearer {key}"} if key else {}
        self._tokenizer: str | None = None  # the endpoint that answered, once one has
        self._no_tokenizer = False
        self._http: httpx.Client | None = None

    # -- the server's window and tokenizer ---------------------------------------------
    @property
    def _root(self) -> str:
        """The server without the API prefix: llama.cpp and Ollama serve extras there."""
        base = (self.base_url or "").rstrip("/")
        return base[: -len("/v1")] if base.endswith("/v1") else base

    def _probe(self, method: str, url: str, body: dict[str, Any] | None = None) -> Any:
        if self._http is None:  # one client: building its TLS context takes a while
            self._http = httpx.Client(headers=self._headers, timeout=PROBE_TIMEOUT)
        try:
            response = self._http.request(method, url, json=body)
            if response.status_code != 200:
                return None
            return response.json()
        except (httpx.HTTPError, ValueError):
            return None

    def _context_window(self) -> tuple[int | None, str]:
        if self.base_url is None:  # hosted APIs do not say; their windows are large
            return None, "not reported by the API"
        base = self.base_url.rstrip("/")
        models = self._probe("GET", f"{base}/models")
        entries = models.get("data", []) if isinstance(models, dict) else []
        entry = next(
            (e for e in entries if isinstance(e, dict) and e.get("id") == self.model), None
        )
        if entry is None and len(entries) == 1 and isinstance(entries[0], dict):
            entry = entries[0]  # a single-model server answers to any name
        entry = entry if isinstance(entry, dict) else {}
        for key in ("max_model_len", "context_length", "context_window"):
            if isinstance(entry.get(key), int):
                return entry[key], f"{base}/models ({key})"
        meta = entry["meta"] if isinstance(entry.get("meta"), dict) else {}
        if isinstance(meta.get("n_ctx"), int):
            return meta["n_ctx"], f"{base}/models (meta.n_ctx)"
        props = self._probe("GET", f"{self._root}/props")
        if isinstance(props, dict):
            settings = props.get("default_generation_settings")
            for where in (props, settings if isinstance(settings, dict) else {}):
                if isinstance(where.get("n_ctx"), int) and where["n_ctx"] > 0:
                    return where["n_ctx"], f"{self._root}/props (n_ctx)"
        shown = self._probe("POST", f"{self._root}/api/show", {"model": self.model})
        if isinstance(shown, dict):
            found = re.search(r"^num_ctx\s+(\d+)", str(shown.get("parameters", "")), re.M)
            if found:
                return int(found.group(1)), f"{self._root}/api/show (num_ctx)"
            info = shown["model_info"] if isinstance(shown.get("model_info"), dict) else {}
            trained = [v for k, v in info.items() if k.endswith(".context_length")]
            window = min([OLLAMA_DEFAULT_CTX, *[int(v) for v in trained]])
            return window, f"{self._root}/api/show (no num_ctx: Ollama's default)"
        if isinstance(meta.get("n_ctx_train"), int):  # what the model was trained for
            return meta["n_ctx_train"], f"{base}/models (meta.n_ctx_train)"
        return None, "not reported by the server"

    def _count_tokens(self, text: str) -> int | None:
        if self.base_url is None or self._no_tokenizer:
            return None
        dialects: list[tuple[str, dict[str, Any]]] = [
            (f"{self._root}/tokenize", {"content": text}),  # llama.cpp
            (f"{self._root}/tokenize", {"model": self.model, "prompt": text}),  # vLLM
            (f"{self._root}/extras/tokenize/count", {"input": text, "model": self.model}),
        ]
        if self._tokenizer is not None:
            dialects = [d for d in dialects if d[0] + str(sorted(d[1])) == self._tokenizer]
        for url, body in dialects:
            answer = self._probe("POST", url, body)
            if not isinstance(answer, dict):
                continue
            if isinstance(answer.get("count"), int):
                count: int = answer["count"]
            elif isinstance(answer.get("tokens"), list):
                count = len(answer["tokens"])
            else:
                continue
            self._tokenizer = url + str(sorted(body))
            return count
        if self._tokenizer is None:
            self._no_tokenizer = True  # ask once, not once per prompt
        return None

    # -- one streamed request -------------------------------------------------------------
    def _call(
        self, system: str, prompt: str, max_tokens: int, progress: Progress
    ) -> tuple[str, int, int]:
        openai = self._openai
        started = time.monotonic()
        parts: list[str] = []
        received = 0
        usage: Any = None
        last_report = 0.0
        try:
            stream = self._client.chat.completions.create(
                model=self.model,
                messages=[
                    {"role": "system", "content": system},
                    {"role": "user", "content": prompt},
                ],
                max_tokens=max_tokens,
                stream=True,
                stream_options={"include_usage": True},
            )
            # Leaving this block, however, closes the connection: the server stops.
            with stream:
                for chunk in stream:
                    if chunk.usage is not None:
                        usage = chunk.usage
                    for choice in chunk.choices:
                        text = choice.delta.content or ""
                        # Thinking models stream their reasoning beside the reply.
                        thought = (choice.delta.model_extra or {}).get("reasoning_content")
                        if text or thought:
                            received += 1
                        parts.append(text)
                    elapsed = time.monotonic() - started
                    if elapsed - last_report >= 0.5:
                        last_report = elapsed
                        progress({"tokens": received, "seconds": elapsed})
                    if elapsed > self.timeout:
                        raise Abandoned(
                            f"no complete reply within {self.timeout:g} s ({received} tokens "
                            "received); the request was cancelled"
                        )
        except (openai.APITimeoutError, self._transport.TimeoutException):
            raise Abandoned(
                f"no token for {self.stall_timeout:g} s ({received} tokens received after "
                f"{time.monotonic() - started:.0f} s); the request was cancelled"
            ) from None
        except (openai.RateLimitError, openai.InternalServerError) as exc:
            raise RetryableError(f"HTTP {exc.status_code}: {exc.message}", _wait(exc)) from None
        except (openai.APIConnectionError, self._transport.TransportError) as exc:
            raise RetryableError(f"{type(exc).__name__}: {exc}") from None
        except openai.APIStatusError as exc:
            if exc.status_code >= 500:
                raise RetryableError(f"HTTP {exc.status_code}: {exc.message}", _wait(exc)) from None
            raise
        progress({"tokens": received, "seconds": time.monotonic() - started, "done": True})
        if usage is not None:
            return "".join(parts), usage.prompt_tokens, usage.completion_tokens
        # A server that sends no usage: the pieces streamed stand in for output tokens.
        return "".join(parts), 0, received


def _wait(exc: Any) -> float | None:
    try:
        return float(exc.response.headers.get("retry-after"))
    except (AttributeError, TypeError, ValueError):
        return None
