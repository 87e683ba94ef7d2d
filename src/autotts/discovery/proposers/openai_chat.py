"""``openai``: any OpenAI-compatible chat-completions endpoint, through the official client.

vLLM, SGLang, llama.cpp's server, Ollama and hosted APIs all speak it. The key
comes from an environment variable (``OPENAI_API_KEY`` unless ``--api-key-env``);
a local server given with ``--base-url`` needs none.
"""

from __future__ import annotations

import os
from typing import Any

from autotts.discovery.proposers.llm import ChatProposer, RetryableError
from autotts.errors import UsageError
from autotts.extras import needs

__all__ = ["OpenAIProposer"]


class OpenAIProposer(ChatProposer):
    kind = "openai"
    default_key_env = "OPENAI_API_KEY"

    def __init__(self, model: str, **options: Any) -> None:
        super().__init__(model, **options)
        with needs("llm", "the openai proposer"):
            import openai
        key = os.environ.get(self.api_key_env)
        if not key and self.base_url is None:
            raise UsageError(f"set {self.api_key_env} (or pass --base-url for a local server)")
        self._openai = openai
        # Retries are ours (recorded per attempt), so the client's own are off.
        self._client = openai.OpenAI(
            api_key=key or "not-needed",
            base_url=self.base_url,
            max_retries=0,
            timeout=self.timeout,
        )

    def _call(self, system: str, prompt: str) -> tuple[str, int, int]:
        openai = self._openai
        try:
            response = self._client.chat.completions.create(
                model=self.model,
                messages=[
                    {"role": "system", "content": system},
                    {"role": "user", "content": prompt},
                ],
                max_tokens=self.max_tokens,
            )
        except (openai.RateLimitError, openai.InternalServerError) as exc:
            raise RetryableError(f"HTTP {exc.status_code}: {exc.message}", _wait(exc)) from None
        except (openai.APIConnectionError, openai.APITimeoutError) as exc:
            raise RetryableError(f"{type(exc).__name__}: {exc}") from None
        except openai.APIStatusError as exc:
            if exc.status_code >= 500:
                raise RetryableError(f"HTTP {exc.status_code}: {exc.message}", _wait(exc)) from None
            raise
        text = response.choices[0].message.content if response.choices else None
        usage = response.usage
        return (
            text or "",
            usage.prompt_tokens if usage else 0,
            usage.completion_tokens if usage else 0,
        )


def _wait(exc: Any) -> float | None:
    try:
        return float(exc.response.headers.get("retry-after"))
    except (AttributeError, TypeError, ValueError):
        return None
