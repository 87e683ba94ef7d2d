"""An OpenAI-compatible completions client for the live path (official ``openai`` package).

Everything live goes through two calls on the legacy completions endpoint, the
one every model server speaks with raw text (vLLM, SGLang, llama.cpp's server,
Ollama): :meth:`CompletionClient.chunk` continues a trajectory by up to Δ tokens,
:meth:`CompletionClient.probe` appends the forced-answer suffix and decodes a few
tokens greedily. Concurrency is bounded by a semaphore; 408/409/429/5xx answers
and dropped connections are retried with exponential back-off by the client
library itself; every response's ``usage`` is added to a :class:`Usage`.
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass, field
from typing import Any

from autotts.errors import LiveServerError, UsageError
from autotts.extras import needs
from autotts.live.answers import parse_answer
from autotts.live.prompts import PROBE_SUFFIX

__all__ = ["Chunk", "CompletionClient", "ProbeResult", "Sampling", "UpstreamStatus", "Usage"]


@dataclass
class Usage:
    """Tokens a server reported, summed over requests."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    requests: int = 0

    def add(self, prompt_tokens: int, completion_tokens: int) -> None:
        self.prompt_tokens += prompt_tokens
        self.completion_tokens += completion_tokens
        self.requests += 1

    def to_openai(self) -> dict[str, int]:
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.prompt_tokens + self.completion_tokens,
        }


@dataclass(frozen=True)
class Sampling:
    """How trajectories are sampled and probed."""

    temperature: float = 0.7
    top_p: float = 1.0
    #: tokens decoded (greedily) after the forced-answer suffix
    probe_tokens: int = 24
    probe_suffix: str = PROBE_SUFFIX
    #: ask probes for token log-probabilities (recorded by the collector when given)
    probe_logprobs: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "temperature": self.temperature,
            "top_p": self.top_p,
            "probe_tokens": self.probe_tokens,
            "probe_suffix": self.probe_suffix,
            "probe_temperature": 0.0,
        }


@dataclass(frozen=True)
class Chunk:
    """One continuation: its text, the completion tokens the server reported, and whether
    the trajectory ended (any finish reason but ``length``)."""

    text: str
    tokens: int
    finished: bool
    finish_reason: str
    #: the trajectory's stored length, when a replay server states it (see replay_model)
    branch_tokens: int | None = None


@dataclass(frozen=True)
class ProbeResult:
    answer: str
    text: str
    #: mean log-probability of the probe's tokens, when the server returned them
    mean_logprob: float | None = None


@dataclass
class CompletionClient:
    """Completions against ``base_url`` (``.../v1``) for model ``model``."""

    base_url: str
    model: str
    sampling: Sampling = field(default_factory=Sampling)
    concurrency: int = 8
    timeout: float = 600.0
    max_retries: int = 4
    api_key: str | None = None

    def __post_init__(self) -> None:
        if self.concurrency < 1:
            raise UsageError(f"concurrency must be >= 1, got {self.concurrency}")
        with needs("live", "talking to a model server"):
            from openai import AsyncOpenAI
        self._client = AsyncOpenAI(
            base_url=self.base_url,
            api_key=self.api_key or os.environ.get("OPENAI_API_KEY") or "not-needed",
            timeout=self.timeout,
            max_retries=self.max_retries,
        )
        self._slots = asyncio.Semaphore(self.concurrency)
        #: every token this client was told about
        self.usage = Usage()

    async def chunk(
        self, prompt: str, max_tokens: int, *, seed: int | None = None, usage: Usage | None = None
    ) -> Chunk:
        """Continue ``prompt`` by at most ``max_tokens`` sampled tokens."""
        extra: dict[str, Any] = {} if seed is None else {"seed": seed}
        response = await self._complete(
            usage,
            prompt=prompt,
            max_tokens=max_tokens,
            temperature=self.sampling.temperature,
            top_p=self.sampling.top_p,
            **extra,
        )
        choice = response.choices[0]
        reason = choice.finish_reason or "stop"
        stated = (response.model_extra or {}).get("replay") or {}
        branch_tokens = stated.get("branch_tokens") if isinstance(stated, dict) else None
        return Chunk(
            text=choice.text,
            tokens=_completion_tokens(response),
            finished=reason != "length",
            finish_reason=reason,
            branch_tokens=branch_tokens if isinstance(branch_tokens, int) else None,
        )

    async def probe(self, prefix: str, *, usage: Usage | None = None) -> ProbeResult:
        """Force an answer after ``prefix`` (prompt + trajectory so far); parse it."""
        extra: dict[str, Any] = {"logprobs": 1} if self.sampling.probe_logprobs else {}
        suffix = self.sampling.probe_suffix
        response = await self._complete(
            usage,
            prompt=prefix + suffix,
            max_tokens=self.sampling.probe_tokens,
            temperature=0.0,
            **extra,
        )
        choice = response.choices[0]
        mean = None
        logprobs = getattr(choice, "logprobs", None)
        values = [v for v in (getattr(logprobs, "token_logprobs", None) or []) if v is not None]
        if values:
            mean = sum(values) / len(values)
        # Only the suffix's own opening brace counts, never an earlier box in the trajectory.
        tail = suffix[suffix.rfind("\\boxed") :] if "\\boxed" in suffix else suffix
        return ProbeResult(parse_answer(tail + choice.text), choice.text, mean)

    async def list_models(self) -> list[str]:
        try:
            page = await self._client.models.list()
        except Exception as exc:
            raise _server_error(self.base_url, exc) from None
        return [model.id for model in page.data]

    async def close(self) -> None:
        await self._client.close()

    async def _complete(self, usage: Usage | None, **params: Any) -> Any:
        async with self._slots:
            try:
                response = await self._client.completions.create(model=self.model, **params)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                raise _server_error(self.base_url, exc) from None
        prompt_tokens = getattr(response.usage, "prompt_tokens", 0) or 0
        completion_tokens = _completion_tokens(response)
        self.usage.add(prompt_tokens, completion_tokens)
        if usage is not None:
            usage.add(prompt_tokens, completion_tokens)
        if not response.choices:
            raise LiveServerError(f"{self.base_url}: the server returned no completion")
        return response


class UpstreamStatus(LiveServerError):
    """The model server answered with an HTTP error ``status`` (after any retries)."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


def _completion_tokens(response: Any) -> int:
    return int(getattr(response.usage, "completion_tokens", 0) or 0)


def _server_error(base_url: str, exc: Exception) -> LiveServerError:
    import openai  # present: the client that raised ``exc`` needed it

    if isinstance(exc, openai.APIStatusError):
        body = exc.body if isinstance(exc.body, dict) else {}
        message = body.get("message") or body.get("error") or exc.message
        if isinstance(message, dict):
            message = message.get("message", message)
        return UpstreamStatus(f"{base_url}: HTTP {exc.status_code}: {message}", exc.status_code)
    if isinstance(exc, openai.APITimeoutError):
        return LiveServerError(f"{base_url}: the request timed out")
    if isinstance(exc, openai.APIConnectionError):
        return LiveServerError(f"{base_url}: cannot connect ({exc.__cause__ or exc})")
    return LiveServerError(f"{base_url}: {type(exc).__name__}: {exc}")
