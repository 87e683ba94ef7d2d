"""What the chat proposers share: prompt, price table, retries with back-off, reply parsing.

A subclass implements :meth:`ChatProposer._call`, one request through its official
client, returning ``(reply text, input tokens, output tokens)``. Retryable failures
(rate limits, 5xx, connection errors, time-outs) are retried with exponential back-off
(honouring ``retry-after``); any failure left after that, or a reply without a code
block, becomes a failed round — never an exception out of :meth:`propose`.
"""

from __future__ import annotations

import json
import time
from importlib import resources
from pathlib import Path
from typing import Any

from autotts.discovery.candidate import extract_code
from autotts.discovery.history import DEFAULT_CONTEXT_BUDGET
from autotts.discovery.prompting import render, user_prompt
from autotts.discovery.proposers.base import Proposal, ProposalContext
from autotts.errors import UsageError

__all__ = ["ChatProposer", "RetryableError", "load_prices"]


class RetryableError(Exception):
    """A failure worth another try; ``wait`` is the server's retry-after, if it gave one."""

    def __init__(self, message: str, wait: float | None = None) -> None:
        super().__init__(message)
        self.wait = wait


def load_prices(path: Path | str | None = None) -> dict[str, dict[str, float]]:
    """``{model: {"input": $/M tokens, "output": $/M tokens}}``: the shipped table, or a file."""
    if path is None:
        text = resources.files("autotts.discovery").joinpath("prices.json").read_text("utf-8")
    else:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"cannot read price table {path}: {exc}") from None
    try:
        table = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(f"price table {path} is not valid JSON: {exc}") from None
    return {k: v for k, v in table.items() if not k.startswith("_")}


class ChatProposer:
    """A chat model that answers a rendered prompt with a summary and a code block."""

    kind = "chat"
    default_key_env = ""

    def __init__(
        self,
        model: str,
        *,
        base_url: str | None = None,
        api_key_env: str | None = None,
        price_in: float | None = None,
        price_out: float | None = None,
        prices: Path | str | None = None,
        context_budget: int = DEFAULT_CONTEXT_BUDGET,
        max_tokens: int = 16_000,
        retries: int = 4,
        backoff: float = 2.0,
        timeout: float = 600.0,
        critic: bool = False,
    ) -> None:
        self.model = model
        self.base_url = base_url
        self.api_key_env = api_key_env or self.default_key_env
        table = load_prices(prices).get(model, {})
        self.price_in = price_in if price_in is not None else table.get("input")
        self.price_out = price_out if price_out is not None else table.get("output")
        self.context_budget = context_budget
        self.max_tokens = max_tokens
        self.retries = retries
        self.backoff = backoff
        self.timeout = timeout
        self.critic = critic

    def describe(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "model": self.model,
            "base_url": self.base_url,
            "api_key_env": self.api_key_env,
            "price_in_per_million": self.price_in,
            "price_out_per_million": self.price_out,
            "context_budget_chars": self.context_budget,
            "max_tokens": self.max_tokens,
            "retries": self.retries,
            "critic": self.critic,
        }

    def remaining(self, round_number: int) -> bool:
        return True

    def money(self, input_tokens: int, output_tokens: int) -> float:
        """Dollars from the price table; 0 when the model's price is unknown."""
        return (
            (self.price_in or 0.0) * input_tokens + (self.price_out or 0.0) * output_tokens
        ) / 1e6

    def _call(self, system: str, prompt: str) -> tuple[str, int, int]:
        raise NotImplementedError

    def _exchange(self, system: str, prompt: str) -> tuple[dict[str, Any], str | None]:
        """One request with retries: ``(exchange record, error or None)``."""
        attempts: list[dict[str, Any]] = []
        started = time.monotonic()
        reply, tokens_in, tokens_out, error = "", 0, 0, None
        for attempt in range(self.retries + 1):
            t0 = time.monotonic()
            try:
                reply, tokens_in, tokens_out = self._call(system, prompt)
                attempts.append({"attempt": attempt, "ok": True, "seconds": time.monotonic() - t0})
                error = None
                break
            except RetryableError as exc:
                error = str(exc)
                attempts.append({"attempt": attempt, "ok": False, "error": error})
                if attempt < self.retries:
                    delay = self.backoff * 2**attempt
                    time.sleep(min(60.0, exc.wait if exc.wait is not None else delay))
            except Exception as exc:  # a client error that no retry will fix
                error = f"{type(exc).__name__}: {exc}"
                attempts.append({"attempt": attempt, "ok": False, "error": error})
                break
        record = {
            "model": self.model,
            "system": system,
            "prompt": prompt,
            "attempts": attempts,
            "reply": reply,
            "input_tokens": tokens_in,
            "output_tokens": tokens_out,
            "money": self.money(tokens_in, tokens_out),
            "latency_seconds": round(time.monotonic() - started, 3),
        }
        return record, error

    def propose(self, context: ProposalContext) -> Proposal:
        system = render("system.md.j2")
        exchange, error = self._exchange(system, user_prompt(context, self.context_budget))
        if error is not None:
            return Proposal(None, exchange=exchange, error=f"{self.kind} request failed: {error}")
        reply = exchange["reply"]
        code = extract_code(reply)
        if code is None:
            problem = "empty reply" if not reply.strip() else "the reply has no ```python block"
            return Proposal(None, exchange=exchange, error=problem)
        summary = reply.split("```", 1)[0].strip()
        if self.critic:
            code, summary = self._refine(system, code, summary, exchange)
        return Proposal(code, summary=summary, exchange=exchange)

    def _refine(
        self, system: str, code: str, summary: str, exchange: dict[str, Any]
    ) -> tuple[str, str]:
        """The critic pass: the same model reviews its file against the rules and may
        return a corrected one. Its exchange is kept under ``critic`` and its tokens and
        money are added to the round's; a failed or code-less review keeps the draft."""
        prompt = render("critic.md.j2", code=code, summary=summary, rules=render("rules.md.j2"))
        review, error = self._exchange(system, prompt)
        review["error"] = error
        exchange["critic"] = review
        for key in ("input_tokens", "output_tokens", "money", "latency_seconds"):
            exchange[key] += review[key]
        revised = extract_code(review["reply"]) if error is None else None
        if revised is None:
            return code, summary
        notes = review["reply"].split("```", 1)[0].strip()
        return revised, f"{summary}\n\nCritic pass: {notes}" if notes else summary
