"""``anthropic``: the Messages API through the official ``anthropic`` client.

The key comes from ``ANTHROPIC_API_KEY`` unless ``--api-key-env`` names another
variable; ``--base-url`` points the client at another server speaking the API.
"""

from __future__ import annotations

from typing import Any

from autotts.discovery.proposers.base import Progress
from autotts.discovery.proposers.llm import Abandoned, ChatProposer, RetryableError
from autotts.extras import needs

__all__ = ["AnthropicProposer"]


class AnthropicProposer(ChatProposer):
    kind = "anthropic"
    default_key_env = "ANTHROPIC_API_KEY"

    def __init__(self, model: str, **options: Any) -> None:
        super().__init__(model, **options)
        with needs("llm", "the anthropic proposer"):
            import anthropic
        key = self._api_key()
        self._anthropic = anthropic
        self._client = anthropic.Anthropic(
            api_key=key or "not-needed",
            base_url=self.base_url,
            max_retries=0,
            timeout=self.timeout,
        )

    def _call(
        self, system: str, prompt: str, max_tokens: int, progress: Progress
    ) -> tuple[str, int, int]:
        anthropic = self._anthropic
        try:
            response = self._client.messages.create(
                model=self.model,
                max_tokens=max_tokens,
                system=system,
                messages=[{"role": "user", "content": prompt}],
            )
        except (anthropic.RateLimitError, anthropic.InternalServerError) as exc:
            raise RetryableError(f"HTTP {exc.status_code}: {exc.message}", _wait(exc)) from None
        except anthropic.APITimeoutError:
            # Not retried, as with the openai proposer: the client has closed the
            # connection, and the round fails rather than wait that long again.
            raise Abandoned(
                f"no reply within {self.timeout:g} s; the request was cancelled"
            ) from None
        except anthropic.APIConnectionError as exc:
            raise RetryableError(f"{type(exc).__name__}: {exc}") from None
        except anthropic.APIStatusError as exc:
            if exc.status_code >= 500:  # 529 "overloaded" among them
                raise RetryableError(f"HTTP {exc.status_code}: {exc.message}", _wait(exc)) from None
            raise
        text = "".join(
            block.text for block in response.content if isinstance(block, anthropic.types.TextBlock)
        )
        return text, response.usage.input_tokens, response.usage.output_tokens


def _wait(exc: Any) -> float | None:
    try:
        return float(exc.response.headers.get("retry-after"))
    except (AttributeError, TypeError, ValueError):
        return None
