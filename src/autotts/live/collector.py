"""Build a replay file from a live model server (docs/collection.md).

Each of N trajectories of a question is generated chunk by chunk, Δ tokens per
request (the server counts the tokens, so cuts fall exactly on Δ generated
tokens and no text is ever re-tokenised to find them). After every chunk that
stopped for length, a probe — prefix + forced-answer suffix, a few greedy
tokens — runs concurrently with the next chunk; probes of one trajectory share
its prefix, so a server with prefix caching serves them cheaply. The trajectory's
final answer is the last ``\\boxed{}`` of its text, its ``branch_tokens`` the sum
of its chunks' reported tokens.

A trajectory ends when the model stops, at ``max_tokens`` (cut there: its length is the
cut, its probes those before the cut, never a longer length a server states), or when
the server refuses the prompt as longer than the model's context (HTTP 400 "maximum
context length"): that trajectory ends where it is, its finish reason says why, and the
collection goes on.

Output: the upstream JSON (docs/replay-protocol.md §1) at ``out``, and a side
file ``<out>.side.jsonl`` (a settings line, then one line per question: per
branch its seed, finish reason, tokens per chunk and probe log-probabilities
when the server returns them). Log-probabilities the server returned also go into
the replay file, as its optional ``probe_logprobs`` (the probes' confidences a
controller can read, :meth:`~autotts.env.session.Session.probe_confidence`).
Finished questions are appended to ``<out>.partial.jsonl`` as they complete, so an
interrupted run resumes without redoing them and loses at most the questions in flight.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from autotts.atomic import write_atomic
from autotts.errors import LiveServerError, UsageError
from autotts.live.answers import ERR, last_boxed, parse_answer
from autotts.live.client import CompletionClient
from autotts.live.prompts import render, resolve_template
from autotts.live.questions import QuestionItem

__all__ = [
    "DEFAULT_MAX_TOKENS",
    "CollectPlan",
    "DryRunEstimate",
    "collect",
    "estimate",
    "partial_path",
    "side_path",
    "template_for",
]

#: Above the public data's longest trajectory (41,509 tokens, Qwen3): 32,768 cut the
#: longest ones short and made their records disagree with the data they reproduce.
DEFAULT_MAX_TOKENS = 49152

# "auto" picks the chat template for a chat-tuned model: prompted as plain text, such a
# model answers in a few tokens without a box, and every answer is ERR.
_CHAT_MODEL = re.compile(r"instruct|chat|(^|[-_/])it($|[-_])|^qwen3(?!.*base)", re.IGNORECASE)

#: what servers say when prompt + max_tokens exceed the model's context (vLLM/OpenAI:
#: "maximum context length"; llama.cpp: "exceeds the available context size")
_CONTEXT_LIMIT = re.compile(r"context (length|size|window)|too many tokens", re.IGNORECASE)


def template_for(model: str, template: str) -> str:
    """``template``, or for ``"auto"`` the one that suits ``model`` by its name: ``chatml``
    for instruct/chat models (and Qwen3, whose post-trained models carry no suffix),
    ``plain`` for base models."""
    if template != "auto":
        return template
    name = model.rsplit("/", 1)[-1]
    return "chatml" if _CHAT_MODEL.search(name) else "plain"


def _context_limit(exc: LiveServerError) -> bool:
    return "HTTP 400" in str(exc) and bool(_CONTEXT_LIMIT.search(str(exc)))


@dataclass(frozen=True)
class CollectPlan:
    """What to sample: N trajectories of at most ``max_tokens``, probed every ``delta``."""

    n: int = 128
    delta: int = 500
    max_tokens: int = DEFAULT_MAX_TOKENS
    #: a template name or text; "auto": by the model's name (:func:`template_for`)
    template: str = "auto"
    #: trajectory i of every question is sampled with seed ``seed_base + i``
    seed_base: int = 0

    def __post_init__(self) -> None:
        for name in ("n", "delta", "max_tokens"):
            if getattr(self, name) < 1:
                raise UsageError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.template != "auto":
            resolve_template(self.template)


@dataclass(frozen=True)
class DryRunEstimate:
    questions: int
    max_calls: int
    max_generated_tokens: int


def partial_path(out: Path) -> Path:
    return out.with_name(out.name + ".partial.jsonl")


def side_path(out: Path) -> Path:
    return out.with_name(out.name + ".side.jsonl")


def estimate(items: list[QuestionItem], plan: CollectPlan, probe_tokens: int) -> DryRunEstimate:
    """Upper bounds: every trajectory runs to ``max_tokens`` and is probed at every cut."""
    chunks = math.ceil(plan.max_tokens / plan.delta)
    per_branch_calls = 2 * chunks
    per_branch_tokens = plan.max_tokens + chunks * probe_tokens
    branches = len(items) * plan.n
    return DryRunEstimate(len(items), branches * per_branch_calls, branches * per_branch_tokens)


async def collect(
    client: CompletionClient,
    items: list[QuestionItem],
    plan: CollectPlan,
    out: Path,
    *,
    on_tokens: Callable[[int], None] | None = None,
    on_question: Callable[[int, int], None] | None = None,
) -> int:
    """Collect every question not yet in the partial file, then write ``out``; returns how many
    questions this call sampled. ``on_tokens(n)`` reports generated tokens as they arrive,
    ``on_question(done, total)`` finished questions."""
    plan = replace(plan, template=template_for(client.model, plan.template))
    settings = {
        "model": client.model,
        "plan": asdict(plan),
        "prompt_template": resolve_template(plan.template),
        "sampling": client.sampling.to_dict(),
        "questions": [item.text for item in items],
    }
    done = _resume(partial_path(out), settings)
    todo = [i for i in range(len(items)) if i not in done]
    if on_question is not None:
        on_question(len(done), len(items))
    # Enough questions in flight to keep the request slots busy when N is small.
    gate = asyncio.Semaphore(max(1, math.ceil(client.concurrency / plan.n)))
    lock = asyncio.Lock()

    async def one(index: int) -> None:
        async with gate:
            record = await _collect_question(client, items[index], index, plan, on_tokens)
        async with lock:
            _append(partial_path(out), record)
            done[index] = record
            if on_question is not None:
                on_question(len(done), len(items))

    tasks = [asyncio.create_task(one(i)) for i in todo]
    try:
        await asyncio.gather(*tasks)
    finally:
        for task in tasks:
            task.cancel()
    _write_outputs(out, settings, [done[i] for i in range(len(items))])
    partial_path(out).unlink(missing_ok=True)
    return len(todo)


async def _collect_question(
    client: CompletionClient,
    item: QuestionItem,
    index: int,
    plan: CollectPlan,
    on_tokens: Callable[[int], None] | None,
) -> dict[str, Any]:
    prompt = render(plan.template, item.text)
    branches = await asyncio.gather(
        *(
            _collect_branch(client, prompt, plan, plan.seed_base + i, on_tokens)
            for i in range(plan.n)
        )
    )
    each_branch = [entry for entry, _ in branches]
    replay_item: dict[str, Any] = {
        "question": item.text,
        "gold_answer": item.gold,
        "probe_freq": plan.delta,
        "final_answers_trace": [entry[2] for entry in each_branch],
        "each_branch": each_branch,
    }
    logprobs = [side["probe_logprobs"] for _, side in branches]
    if any(v is not None for row in logprobs for v in row):  # a server that gave none: no key
        replay_item["probe_logprobs"] = [[_logprob(v) for v in row] for row in logprobs]
    return {
        "index": index,
        "item": replay_item,
        "side": {"index": index, "branches": [side for _, side in branches]},
    }


def _logprob(value: float | None) -> float | None:
    """A probe's mean log-probability as the replay format takes it: a finite number <= 0
    (a server's rounding can give a hair above 0; anything not finite is no value)."""
    if value is None or not math.isfinite(value):
        return None
    return min(value, 0.0)


async def _collect_branch(
    client: CompletionClient,
    prompt: str,
    plan: CollectPlan,
    seed: int,
    on_tokens: Callable[[int], None] | None,
) -> tuple[list[Any], dict[str, Any]]:
    text, generated, chunk_tokens = "", 0, []
    probes: list[asyncio.Task[Any]] = []
    stated: int | None = None
    try:
        while True:
            if generated >= plan.max_tokens:
                reason = "max_tokens"
                break
            asked = min(plan.delta, plan.max_tokens - generated)
            try:
                chunk = await client.chunk(prompt + text, asked, seed=seed)
            except LiveServerError as exc:
                if not _context_limit(exc):
                    raise
                reason = "context_length"
                break
            text += chunk.text
            generated += chunk.tokens
            chunk_tokens.append(chunk.tokens)
            if on_tokens is not None:
                on_tokens(chunk.tokens)
            reason = chunk.finish_reason
            if generated > plan.max_tokens and chunk.tokens > asked:
                # the server ignored max_tokens and ran past the cap: the record keeps the
                # cap, which its probes (one per full Δ before it) agree with
                generated, reason = plan.max_tokens, "max_tokens"
                break
            if chunk.finished:
                # A replay server states the stored length, which may differ from the
                # tokens it streamed (its probes can overrun the end); only for a
                # trajectory that ended by itself is that length the trajectory's.
                stated = chunk.branch_tokens
                break
            # Probe k sits at (k+1)·Δ tokens: a chunk the cap cut short gets no probe.
            if chunk.tokens >= plan.delta:
                probes.append(asyncio.create_task(_probe(client, prompt + text)))
        results = await asyncio.gather(*probes)
    finally:
        for task in probes:
            task.cancel()
    final = parse_answer(text)
    tokens = stated if stated is not None else generated
    side: dict[str, Any] = {
        "seed": seed,
        "finish_reason": reason,
        "chunk_tokens": chunk_tokens,
        "probe_logprobs": [r.mean_logprob if r is not None else None for r in results],
    }
    # Stored as ERR like a missing answer (the replay format has no other), but recorded
    # here so an empty box can be told from none.
    if final == ERR and last_boxed(text) == "":
        side["final_empty_box"] = True
    empty = [k for k, r in enumerate(results) if r is not None and r.answer == ERR and r.empty]
    if empty:
        side["probe_empty_boxes"] = empty
    refused = [k for k, r in enumerate(results) if r is None]
    if refused:
        side["probe_context_length"] = refused
    answers = [ERR if r is None else r.answer for r in results]
    return [answers, tokens, final], side


@dataclass(frozen=True)
class _ProbeAnswer:
    answer: str
    mean_logprob: float | None
    #: the model closed the box at once (``\\boxed{}``)
    empty: bool


async def _probe(client: CompletionClient, prefix: str) -> _ProbeAnswer | None:
    """The probe's answer; ``None`` when prefix + suffix no longer fit the model's context
    (recorded as ERR: no answer could be had there)."""
    try:
        result = await client.probe(prefix)
    except LiveServerError as exc:
        if not _context_limit(exc):
            raise
        return None
    empty = result.text.lstrip().startswith("}")
    return _ProbeAnswer(result.answer, result.mean_logprob, empty)


def _resume(path: Path, settings: dict[str, Any]) -> dict[int, dict[str, Any]]:
    """Questions already finished in the partial file (written under the same settings)."""
    if not path.exists():
        _append(path, {"settings": settings})
        return {}
    done: dict[int, dict[str, Any]] = {}
    lines = path.read_text(encoding="utf-8").splitlines()
    for number, line in enumerate(lines):
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            if number == len(lines) - 1:
                break  # the last line was cut short by a crash: that question is redone
            raise UsageError(f"{path}: line {number + 1} is not JSON; delete the file") from None
        if number == 0:
            if record.get("settings") != settings:
                raise UsageError(
                    f"{path} was written with other settings (model, plan, prompt, sampling "
                    "or questions); delete it to start over, or rerun with the same settings"
                )
            continue
        done[int(record["index"])] = record
    return done


def _append(path: Path, record: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(record) + "\n")
        handle.flush()
        os.fsync(handle.fileno())


def _write_outputs(out: Path, settings: dict[str, Any], records: list[dict[str, Any]]) -> None:
    document = [record["item"] for record in records]
    side_lines = [json.dumps({"settings": settings})]
    side_lines += [json.dumps(record["side"]) for record in records]
    _write_atomic(side_path(out), "\n".join(side_lines) + "\n")
    _write_atomic(out, json.dumps(document))


def _write_atomic(path: Path, text: str) -> None:
    write_atomic(path, text.encode("utf-8"))
