"""What ``autotts serve`` is configured with, and what a chat request may ask of it.

:class:`ServeConfig` holds the server's settings and limits; the functions read a
request body against them (the question, streaming, the per-request budget) and
raise :class:`~autotts.errors.UsageError` with a message the client gets back as a
400. The app itself is in :mod:`autotts.live.serving`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from autotts.errors import UsageError
from autotts.live.budget import RequestBudget
from autotts.live.client import Sampling

__all__ = ["ServeConfig", "chat_question", "request_budget", "stream_options"]


@dataclass(frozen=True)
class ServeConfig:
    upstream: str
    model: str
    controller: str = "cmc"
    beta: float = 0.5
    served_name: str | None = None
    template: str = "plain"
    delta: int = 500
    pool_size: int = 128
    max_tokens: int = 32768
    timeout: float = 600.0
    max_concurrent: int = 4
    upstream_concurrency: int = 16
    prefetch: bool = True
    sampling: Sampling = field(default_factory=Sampling)
    #: import a controller file into this process instead of sandboxing it
    trusted: bool = False
    #: write one line per request to stderr
    log_requests: bool = True
    #: completion tokens a request may spend upstream at most (its default and its limit)
    max_tokens_per_request: int | None = None
    #: branches a request may open at most (its default and its limit); None: the pool
    max_branches: int | None = None

    @property
    def name(self) -> str:
        return self.served_name or self.model

    @property
    def branch_limit(self) -> int:
        return self.pool_size if self.max_branches is None else self.max_branches

    @property
    def smallest_token_cap(self) -> int:
        """A cap below this pays for no read: one chunk of Δ tokens and its probe."""
        return min(self.delta, self.max_tokens) + self.sampling.probe_tokens

    def check(self) -> None:
        """The budget flags make sense together (a bad one fails at start)."""
        if self.max_branches is not None and not 1 <= self.max_branches <= self.pool_size:
            raise UsageError(
                f"--max-branches must be between 1 and --pool ({self.pool_size}), "
                f"got {self.max_branches}"
            )
        cap = self.max_tokens_per_request
        if cap is not None and cap < self.smallest_token_cap:
            raise UsageError(
                f"--max-tokens-per-request must be at least {self.smallest_token_cap} (one "
                f"chunk of {min(self.delta, self.max_tokens)} tokens and its probe of "
                f"{self.sampling.probe_tokens}), got {cap}"
            )


def chat_question(messages: Any) -> str:
    """The text of the last user message (string content or a list of text parts)."""
    if not isinstance(messages, list) or not messages:
        raise UsageError("'messages' must be a non-empty list")
    for message in reversed(messages):
        if isinstance(message, dict) and message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, list):
                content = "".join(
                    part.get("text", "")
                    for part in content
                    if isinstance(part, dict) and part.get("type") == "text"
                )
            if isinstance(content, str) and content.strip():
                return content
            raise UsageError("the last user message has no text")
    raise UsageError("'messages' holds no user message")


def stream_options(body: dict[str, Any]) -> tuple[bool, bool]:
    """``(stream, include_usage)`` from the body, as the OpenAI API reads them."""
    stream = body.get("stream")
    if stream is not None and not isinstance(stream, bool):
        raise UsageError(f"'stream' must be true or false, got {stream!r}")
    options = body.get("stream_options")
    if options is None:
        return bool(stream), False
    if not stream:
        raise UsageError("'stream_options' is only allowed when 'stream' is true")
    if not isinstance(options, dict):
        raise UsageError(f"'stream_options' must be an object, got {options!r}")
    include = options.get("include_usage", False)
    if not isinstance(include, bool):
        raise UsageError(f"'stream_options.include_usage' must be true or false, got {include!r}")
    return True, include


def _positive_int(body: dict[str, Any], name: str) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise UsageError(f"'{name}' must be a positive integer, got {value!r}")
    return value


def request_budget(body: dict[str, Any], config: ServeConfig) -> RequestBudget:
    """The request's caps: what it asks for within the server's limits, else the limits.

    The token cap is OpenAI's own field, ``max_completion_tokens`` (or the older
    ``max_tokens``): every completion token generated for the request counts, as a
    reasoning model's hidden tokens do there.
    """
    tokens = _positive_int(body, "max_completion_tokens")
    legacy = _positive_int(body, "max_tokens")
    if tokens is not None and legacy is not None and tokens != legacy:
        raise UsageError(
            f"'max_tokens' ({legacy}) and 'max_completion_tokens' ({tokens}) differ; send one"
        )
    tokens = tokens if tokens is not None else legacy
    name = "max_completion_tokens" if "max_completion_tokens" in body else "max_tokens"
    limit = config.max_tokens_per_request
    if tokens is not None:
        if limit is not None and tokens > limit:
            raise UsageError(
                f"'{name}' is {tokens}, above this server's limit of {limit} tokens per "
                "request (--max-tokens-per-request)"
            )
        if tokens < config.smallest_token_cap:
            raise UsageError(
                f"'{name}' must be at least {config.smallest_token_cap} on this server, "
                f"got {tokens}: one chunk of {min(config.delta, config.max_tokens)} tokens "
                f"and its probe of {config.sampling.probe_tokens}, the least a read takes"
            )
    branches = _positive_int(body, "max_branches")
    if branches is not None and branches > config.branch_limit:
        raise UsageError(
            f"'max_branches' is {branches}, above this server's limit of "
            f"{config.branch_limit} (--max-branches)"
        )
    return RequestBudget(
        max_tokens=tokens if tokens is not None else limit,
        max_branches=branches if branches is not None else config.branch_limit,
    )
