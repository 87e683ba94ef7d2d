"""What the chat proposers share: prompt fitting, price table, retries, reply parsing.

A subclass implements :meth:`ChatProposer._call`, one request through its official
client, returning ``(reply text, input tokens, output tokens)``, and may say how
large the model's context window is (:meth:`ChatProposer._context_window`) and
count tokens with the server's tokenizer (:meth:`ChatProposer._count_tokens`).

The prompt is fitted to the window before it is sent: the first cut of
:func:`autotts.discovery.prompting.prompt_ladder` that leaves room to answer is
taken, and ``max_tokens`` is what the window has left (at most
``--completion-tokens``). A window too small for even the smallest prompt is a
:class:`~autotts.errors.UsageError`: every round would fail the same way.

Retryable failures (rate limits, 5xx, a refused connection) are retried with
exponential back-off (honouring ``retry-after``). A request that was abandoned —
no token for ``stall_timeout`` seconds, or no complete reply within ``timeout`` —
is not: its connection is closed (so a local server stops generating) and the round
fails, rather than queueing a retry behind a request the server may still be busy
with. Any failure becomes a failed round, never an exception out of :meth:`propose`.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from autotts.discovery.candidate import extract_code
from autotts.discovery.history import DEFAULT_CONTEXT_BUDGET
from autotts.discovery.prompting import prompt_ladder, render, rules_text, user_prompt
from autotts.discovery.proposers.base import Progress, Proposal, ProposalContext
from autotts.errors import UsageError

__all__ = [
    "Abandoned",
    "ChatProposer",
    "Fitted",
    "RetryableError",
    "estimate_tokens",
    "load_prices",
]

#: Tokens a chat template adds around two messages (role markers, separators); generous.
TEMPLATE_TOKENS = 48
#: The least room to answer a fitted prompt leaves (or a quarter of the window, if more).
MIN_ANSWER_TOKENS = 512


class RetryableError(Exception):
    """A failure worth another try; ``wait`` is the server's retry-after, if it gave one."""

    def __init__(self, message: str, wait: float | None = None) -> None:
        super().__init__(message)
        self.wait = wait


class Abandoned(Exception):
    """The request was given up and its connection closed; never retried."""


def estimate_tokens(text: str) -> int:
    """A count meant to err high where no tokenizer is at hand: one token per 3 bytes of
    UTF-8 (English prose and code run 3.5–4.5 characters a token in common tokenizers)."""
    return -(-len(text.encode("utf-8")) // 3)


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


@dataclass
class Fitted:
    """A prompt fitted to the model's window, and what the fitting found."""

    prompt: str
    max_tokens: int
    prompt_tokens: int
    counted_by: str
    window: int | None
    window_source: str
    cut: str

    def record(self) -> dict[str, Any]:
        return {
            "context_window": self.window,
            "context_window_source": self.window_source,
            "prompt_tokens_counted": self.prompt_tokens,
            "counted_by": self.counted_by,
            "max_tokens": self.max_tokens,
            "prompt_cut": self.cut,
        }


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
        context_tokens: int | None = None,
        retries: int = 4,
        backoff: float = 2.0,
        timeout: float = 600.0,
        stall_timeout: float = 120.0,
        critic: bool = False,
    ) -> None:
        for flag, value in (
            ("--completion-tokens", max_tokens),
            ("--context-tokens", context_tokens),
            ("--llm-timeout", timeout),
            ("--stall-timeout", stall_timeout),
        ):
            if value is not None and value <= 0:
                raise UsageError(f"{flag} must be positive, got {value:g}")
        if retries < 0:
            raise UsageError(f"--retries must be 0 or more, got {retries}")
        self.model = model
        self.base_url = base_url
        self.api_key_env = api_key_env or self.default_key_env
        table = load_prices(prices).get(model, {})
        self.price_in = price_in if price_in is not None else table.get("input")
        self.price_out = price_out if price_out is not None else table.get("output")
        self.context_budget = context_budget
        self.max_tokens = max_tokens
        self.context_tokens = context_tokens
        self.retries = retries
        self.backoff = backoff
        self.timeout = timeout
        self.stall_timeout = stall_timeout
        self.critic = critic
        #: the system prompt and its count, which every fitting step would ask again
        self._system_tokens: tuple[str, int | None] | None = None

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
            "context_tokens": self.context_tokens,
            "retries": self.retries,
            "timeout": self.timeout,
            "stall_timeout": self.stall_timeout,
            "critic": self.critic,
        }

    def remaining(self, round_number: int) -> bool:
        return True

    def money(self, input_tokens: int, output_tokens: int) -> float:
        """Dollars from the price table; 0 when the model's price is unknown."""
        return (
            (self.price_in or 0.0) * input_tokens + (self.price_out or 0.0) * output_tokens
        ) / 1e6

    def _api_key(self) -> str | None:
        """The key in ``api_key_env``; only a server at ``--base-url`` (a local one) may
        go without, so with neither the proposer cannot start."""
        key = os.environ.get(self.api_key_env)
        if not key and self.base_url is None:
            raise UsageError(f"set {self.api_key_env} (or pass --base-url for a local server)")
        return key

    # -- what a subclass provides -------------------------------------------------------
    def _call(
        self, system: str, prompt: str, max_tokens: int, progress: Progress
    ) -> tuple[str, int, int]:
        raise NotImplementedError

    def _context_window(self) -> tuple[int | None, str]:
        """``(tokens, where that came from)``; ``(None, why not)`` when the server won't say."""
        return None, "not reported"

    def _count_tokens(self, text: str) -> int | None:
        """Tokens of ``text`` by the server's tokenizer; None when it has none."""
        return None

    # -- fitting --------------------------------------------------------------------------
    def window(self) -> tuple[int | None, str]:
        if self.context_tokens is not None:
            return self.context_tokens, "--context-tokens"
        return self._context_window()

    def _tokens(self, system: str, prompt: str) -> tuple[int, str]:
        if self._system_tokens is None or self._system_tokens[0] != system:
            self._system_tokens = (system, self._count_tokens(system))
        counted = [self._system_tokens[1], self._count_tokens(prompt)]
        if all(c is not None for c in counted):
            return sum(c or 0 for c in counted) + TEMPLATE_TOKENS, "the server's tokenizer"
        return estimate_tokens(system) + estimate_tokens(prompt) + TEMPLATE_TOKENS, "an estimate"

    def fit(self, system: str, context: ProposalContext) -> Fitted:
        """The largest prompt that leaves room to answer, and ``max_tokens`` for it."""
        window, source = self.window()
        ladder = prompt_ladder(self.context_budget)
        if window is None:  # nothing to fit to: the whole prompt, as asked
            prompt = user_prompt(context, self.context_budget, ladder[0])
            tokens, how = estimate_tokens(system) + estimate_tokens(prompt), "an estimate"
            return Fitted(prompt, self.max_tokens, tokens, how, None, source, "")
        need = min(self.max_tokens, max(MIN_ANSWER_TOKENS, window // 4))
        measured: dict[int, tuple[str, int, str]] = {}

        def measure(i: int) -> tuple[str, int, str]:
            if i not in measured:
                prompt = user_prompt(context, self.context_budget, ladder[i])
                measured[i] = (prompt, *self._tokens(system, prompt))
            return measured[i]

        def fits(i: int) -> bool:
            return measure(i)[1] + need <= window

        last = len(ladder) - 1
        if not fits(last):
            _, tokens, how = measure(last)
            raise UsageError(
                f"the model's context window ({window:,} tokens, from {source}) cannot hold "
                f"even the smallest prompt ({tokens:,} tokens by {how}) and {need:,} tokens "
                "of answer: start the server with a larger context (llama.cpp: --ctx-size "
                "8192; Ollama: num_ctx) or, if the server reports it wrongly, pass "
                "--context-tokens"
            )
        # The ladder only ever shrinks, so the first cut that fits is found by bisection.
        lo, hi = 0, last
        while lo < hi:
            mid = (lo + hi) // 2
            if fits(mid):
                hi = mid
            else:
                lo = mid + 1
        prompt, tokens, how = measure(lo)
        max_tokens = max(1, min(self.max_tokens, window - tokens))
        return Fitted(prompt, max_tokens, tokens, how, window, source, ladder[lo].describe())

    def _room(self, system: str, prompt: str) -> int | None:
        """``max_tokens`` for a prompt that is not cut (the critic's); None if it cannot fit."""
        window, _ = self.window()
        if window is None:
            return self.max_tokens
        tokens, _ = self._tokens(system, prompt)
        need = min(self.max_tokens, max(MIN_ANSWER_TOKENS, window // 4))
        return min(self.max_tokens, window - tokens) if tokens + need <= window else None

    # -- the exchange -----------------------------------------------------------------------
    def _exchange(
        self, system: str, prompt: str, max_tokens: int, progress: Progress
    ) -> tuple[dict[str, Any], str | None]:
        """One request with retries: ``(exchange record, error or None)``."""
        attempts: list[dict[str, Any]] = []
        started = time.monotonic()
        reply, tokens_in, tokens_out, error = "", 0, 0, None
        for attempt in range(self.retries + 1):
            t0 = time.monotonic()
            try:
                reply, tokens_in, tokens_out = self._call(system, prompt, max_tokens, progress)
                attempts.append({"attempt": attempt, "ok": True, "seconds": time.monotonic() - t0})
                error = None
                break
            except RetryableError as exc:
                error = str(exc)
                attempts.append({"attempt": attempt, "ok": False, "error": error})
                if attempt < self.retries:
                    delay = min(
                        60.0, exc.wait if exc.wait is not None else self.backoff * 2**attempt
                    )
                    progress(
                        {"retry": attempt + 1, "of": self.retries, "wait": delay, "error": error}
                    )
                    time.sleep(delay)
            except Abandoned as exc:  # its connection is closed; a retry would start over
                error = str(exc)
                attempts.append(
                    {"attempt": attempt, "ok": False, "error": error, "abandoned": True}
                )
                break
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
        fitted = self.fit(system, context)
        context.report(
            {
                "prompt_tokens": fitted.prompt_tokens,
                "counted_by": fitted.counted_by,
                "window": fitted.window,
                "max_tokens": fitted.max_tokens,
                "cut": fitted.cut,
            }
        )
        exchange, error = self._exchange(system, fitted.prompt, fitted.max_tokens, context.report)
        exchange.update(fitted.record())
        if exchange["reply"] and not exchange["input_tokens"]:
            # A server that streams no usage (llama-cpp-python): the prompt as counted.
            exchange["input_tokens"] = fitted.prompt_tokens
            exchange["money"] = self.money(fitted.prompt_tokens, exchange["output_tokens"])
        if error is not None:
            if fitted.window is None and "context" in error.lower():
                # The server refused a prompt too long for a window it would not tell us.
                error += "; pass --context-tokens with the server's context size"
            return Proposal(None, exchange=exchange, error=f"{self.kind} request failed: {error}")
        reply = exchange["reply"]
        code = extract_code(reply)
        if code is None:
            if not reply.strip():
                problem = "empty reply"
            else:
                problem = "the reply has no ```python block"
                if exchange["output_tokens"] >= fitted.max_tokens:
                    problem += f" (it stopped at the {fitted.max_tokens:,}-token limit)"
            return Proposal(None, exchange=exchange, error=problem)
        summary = reply.split("```", 1)[0].strip()
        if self.critic:
            code, summary = self._refine(system, code, summary, exchange, context)
        return Proposal(code, summary=summary, exchange=exchange)

    def _refine(
        self,
        system: str,
        code: str,
        summary: str,
        exchange: dict[str, Any],
        context: ProposalContext,
    ) -> tuple[str, str]:
        """The critic pass: the same model reviews its file against the rules and may
        return a corrected one. Its exchange is kept under ``critic`` and its tokens and
        money are added to the round's; a failed or code-less review keeps the draft."""
        prompt = render(
            "critic.md.j2",
            code=code,
            summary=summary,
            rules=rules_text(context),
            no_beta=context.no_beta,
        )
        progress = context.report
        room = self._room(system, prompt)
        if room is None:
            exchange["critic"] = {"error": "the review does not fit the model's context window"}
            return code, summary
        review, error = self._exchange(system, prompt, room, progress)
        review["error"] = error
        exchange["critic"] = review
        for key in ("input_tokens", "output_tokens", "money", "latency_seconds"):
            exchange[key] += review[key]
        revised = extract_code(review["reply"]) if error is None else None
        if revised is None:
            return code, summary
        notes = review["reply"].split("```", 1)[0].strip()
        return revised, f"{summary}\n\nCritic pass: {notes}" if notes else summary
