"""Reading trace files (``autotts eval --traces``) into what the pictures show.

A trace file has one JSON line per episode; its ``trace`` is the list of steps
written by the evaluator (``start``, ``finish``), by the environment (``read``,
see :mod:`autotts.env.tracing`) and by the controller (anything else; a step
whose output has ``branches`` is a prune). This module turns one line into an
:class:`EpisodeView` (every read placed on the episode's token axis) and any
number of lines into :class:`EpisodeStats` rows, streaming, so a file of
hundreds of MB is summarised in constant memory.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from autotts.errors import UsageError

__all__ = [
    "BranchView",
    "EpisodeStats",
    "EpisodeView",
    "Read",
    "episode_label",
    "episode_stats",
    "episode_view",
    "find_episode",
    "iter_episodes",
    "parse_episode_key",
]


@dataclass(frozen=True)
class Read:
    """One read: tokens spent before and after it (episode totals), its answer."""

    start: float
    end: float
    depth: int
    answer: str
    finished: bool
    full: bool
    #: the probe's confidence, when the data had one (a trace step's "confidence")
    confidence: float | None = None


@dataclass
class BranchView:
    """One branch (slot) of an episode, in the order branches were opened."""

    slot: int
    reads: list[Read] = field(default_factory=list)
    pruned_at: float | None = None  # episode tokens when the controller dropped it

    @property
    def tokens(self) -> float:
        return sum(read.end - read.start for read in self.reads)

    @property
    def finished(self) -> bool:
        return any(read.finished for read in self.reads)


@dataclass
class EpisodeView:
    """One episode as the timeline draws it."""

    question: int
    replicate: int
    label: str  # "Qwen3-4B/aime24 · cmc β=0.5"
    branches: list[BranchView]
    answer: str | None
    gold: str | None
    correct: bool | None
    tokens: float
    stop_reason: str
    stop_decision: str
    checks: list[tuple[float, str]]  # (tokens, decision) of the controller's own steps
    #: numeric outputs of the controller's own steps over tokens, e.g. CMC's "ema"
    signals: dict[str, list[tuple[float, float]]] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)  # the controller's, from "start"


@dataclass(frozen=True)
class EpisodeStats:
    """What the summary needs of one episode."""

    correct: bool
    tokens: float
    stop_reason: str
    width: int  # branches opened
    reads: int
    tokens_finished: float  # tokens spent on branches that reached their final answer
    tokens_pruned: float  # ... on branches the controller dropped
    tokens_open: float  # ... on branches still running when the episode stopped


def iter_episodes(
    path: Path, progress: Callable[[int], None] | None = None
) -> Iterator[dict[str, Any]]:
    """Parsed lines of a trace file; a clear :class:`UsageError` on anything else.

    ``progress(n_bytes)`` is called with the bytes read so far, every 64 lines.
    """
    if not path.is_file():
        raise UsageError(f"trace file not found: {path}")
    with path.open("rb") as handle:
        done = 0
        for number, raw in enumerate(handle, 1):
            done += len(raw)
            if progress is not None and number % 64 == 0:
                progress(done)
            line = raw.decode("utf-8", errors="replace")
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise UsageError(f"{path}:{number}: not a JSON line ({exc.msg})") from None
            if not isinstance(row, dict) or not isinstance(row.get("trace"), list):
                raise UsageError(
                    f"{path}:{number}: not an episode trace (write one with "
                    "'autotts eval ... --traces FILE')"
                )
            yield row


def parse_episode_key(text: str) -> tuple[int, int | None]:
    """``"3"`` -> (3, None); ``"3:1"`` -> (3, 1): question index and replicate."""
    question, _, replicate = text.partition(":")
    try:
        return int(question), int(replicate) if replicate else None
    except ValueError:
        raise UsageError(
            f"--episode must be QUESTION or QUESTION:REPLICATE, got {text!r}"
        ) from None


def find_episode(path: Path, question: int | None, replicate: int | None) -> dict[str, Any]:
    """The first line for ``question`` (and ``replicate``, if given); the first line if neither."""
    seen: list[str] = []
    for row in iter_episodes(path):
        q, r = row.get("question_index"), row.get("replicate")
        if (question is None or q == question) and (replicate is None or r == replicate):
            return row
        if len(seen) < 8:
            seen.append(f"{q}:{r}")
    if not seen:
        raise UsageError(f"{path} holds no episodes")
    wanted = f"{question}" + (f":{replicate}" if replicate is not None else "")
    more = ", …" if len(seen) == 8 else ""
    raise UsageError(f"no episode {wanted} in {path} (it has {', '.join(seen)}{more})")


def episode_label(row: dict[str, Any]) -> str:
    controller = row.get("controller") or {}
    name = str(controller.get("name", "controller")) if isinstance(controller, dict) else "?"
    beta = controller.get("beta") if isinstance(controller, dict) else None
    if beta is None:  # no β given: the controller's resolved parameters may hold its default
        first = row["trace"][0] if row.get("trace") else {}
        state = first.get("state") if isinstance(first, dict) else None
        params = state.get("params") if isinstance(state, dict) else None
        beta = params.get("beta") if isinstance(params, dict) else None
    where = f"{row.get('model', '?')}/{row.get('benchmark', '?')}"
    return f"{where} · {name}" + (f" β={beta:g}" if isinstance(beta, (int, float)) else "")


def episode_view(row: dict[str, Any]) -> EpisodeView:
    """Place every read of one trace line on the episode's cumulative-token axis."""
    branches: dict[int, BranchView] = {}
    checks: list[tuple[float, str]] = []
    signals: dict[str, list[tuple[float, float]]] = {}
    params: dict[str, Any] = {}
    tokens = 0.0
    finish: dict[str, Any] = {}
    for step in row["trace"]:
        event = step.get("event")
        out = step.get("output")
        if event == "read":
            slot = int(step["input"]["branch"])
            charged = float(step["state"]["charged"])
            tokens = float(step["state"]["tokens"])
            branch = branches.setdefault(slot, BranchView(slot))
            branch.reads.append(
                Read(
                    start=tokens - charged,
                    end=tokens,
                    depth=int(step["input"]["depth"]),
                    answer=str(out["answer"]),
                    finished=bool(out["finished"]),
                    full=bool(step["input"]["full"]),
                    confidence=_number(out.get("confidence")),
                )
            )
        elif event == "finish":
            finish = step
        elif event == "start":
            state = step.get("state")
            if isinstance(state, dict) and isinstance(state.get("params"), dict):
                params = state["params"]
        else:
            if isinstance(out, dict):
                for key, value in out.items():
                    if isinstance(value, (int, float)) and not isinstance(value, bool):
                        signals.setdefault(str(key), []).append((tokens, float(value)))
            if isinstance(out, dict) and isinstance(out.get("branches"), list):
                for slot in out["branches"]:
                    branches.setdefault(int(slot), BranchView(int(slot))).pruned_at = tokens
            if step.get("decision"):
                checks.append((tokens, str(step["decision"])))
    result = finish.get("output") or {}
    return EpisodeView(
        question=int(row.get("question_index", -1)),
        replicate=int(row.get("replicate", -1)),
        label=episode_label(row),
        branches=[branches[slot] for slot in sorted(branches)],
        answer=result.get("answer", row.get("answer")),
        gold=result.get("gold"),
        correct=result.get("correct", row.get("is_correct")),
        tokens=float(result.get("tokens", tokens)),
        stop_reason=str(result.get("stop_reason", "returned")),
        stop_decision=str(finish.get("decision", "")),
        checks=checks,
        signals=signals,
        params=params,
    )


def episode_stats(row: dict[str, Any]) -> EpisodeStats:
    """The summary's numbers for one trace line."""
    view = episode_view(row)
    pruned = sum(b.tokens for b in view.branches if b.pruned_at is not None)
    finished = sum(b.tokens for b in view.branches if b.pruned_at is None and b.finished)
    return EpisodeStats(
        correct=bool(view.correct),
        tokens=view.tokens,
        stop_reason=view.stop_reason,
        width=len(view.branches),
        reads=sum(len(b.reads) for b in view.branches),
        tokens_finished=finished,
        tokens_pruned=pruned,
        tokens_open=view.tokens - finished - pruned,
    )


def _number(value: Any) -> float | None:
    """A trace value as a float, ``None`` for anything else (older traces have no value)."""
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None
