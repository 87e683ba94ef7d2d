"""Trace digests: what a designer needs to see why a candidate fails, in bounded size.

Input: the execution traces of the candidate's evaluation on the search files
(one :class:`~autotts.evaluation.runner.EpisodeRecord` per episode). Output: a
Markdown text (``traces.md``) that, per search file, summarises the run and then
shows the questions it got wrong and the ones where it spent most: what it
opened, probed and pruned, when and why it stopped (its own trace
``decision``s), how its tokens split between width and depth, and whether it
stopped while the majority was still changing.

It uses the environment's ``read`` events (``input.branch``/``depth``,
``output.answer``/``finished``, ``state.charged``) and ``gold``/``correct`` in the
``finish`` output when the trace has them, and otherwise works from the
controller's own events and the ``finish`` event alone.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from typing import Any

from autotts.evaluation.runner import EpisodeRecord

__all__ = ["DEFAULT_DIGEST_CHARS", "digest_episode", "trace_digest"]

DEFAULT_DIGEST_CHARS = 8_000
#: reads before the stop inspected for a changing majority
LATE_WINDOW = 4
_IGNORED = {"start", "finish", "read"}


def _clip(value: Any, limit: int = 140) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _leader(latest: dict[Any, str]) -> str | None:
    votes = Counter(a for a in latest.values() if a)
    if not votes:
        return None
    top = max(votes.values())
    return min(a for a, n in votes.items() if n == top)


def _reads_summary(reads: list[dict[str, Any]]) -> tuple[str, bool | None]:
    """Width/depth split and whether the majority of latest answers moved late."""
    width = sum(1 for r in reads if (r.get("input") or {}).get("depth", 0) == 0)
    depth = len(reads) - width
    full = sum(1 for r in reads if (r.get("input") or {}).get("full"))
    latest: dict[Any, str] = {}
    leaders: list[str | None] = []
    for r in reads:
        branch = (r.get("input") or {}).get("branch")
        latest[branch] = str((r.get("output") or {}).get("answer") or "")
        leaders.append(_leader(latest))
    tail = leaders[-(LATE_WINDOW + 1) :]
    changing = len(set(tail)) > 1 if len(tail) > 1 else None
    text = f"reads: {width} first reads (width), {depth} deeper reads (depth), {full} full reads"
    return text, changing


def _winner_changes(steps: list[dict[str, Any]]) -> bool | None:
    """Fallback without read events: did the controller's own reported winner move late?"""
    winners = [
        s["output"]["winner"]
        for s in steps
        if isinstance(s.get("output"), dict) and "winner" in s["output"]
    ]
    tail = winners[-(LATE_WINDOW + 1) :]
    return len(set(map(str, tail))) > 1 if len(tail) > 1 else None


def digest_episode(record: EpisodeRecord) -> str:
    """A few lines about one episode."""
    steps = record.trace
    finish = next((s for s in reversed(steps) if s.get("event") == "finish"), {})
    out = finish.get("output") or {}
    opened = (finish.get("state") or {}).get("branches_opened", "?")
    gold = f", gold {out['gold']!r}" if "gold" in out else ""
    verdict = "correct" if record.correct else "WRONG"
    lines = [
        f"- q{record.question} (seed {record.replicate}): answered {record.answer!r} — "
        f"{verdict}{gold}; {record.cost:,.0f} tokens, {opened} branches opened, "
        f"longest branch {record.sequential_cost:,.0f} tokens"
    ]
    own = [s for s in steps if s.get("event") not in _IGNORED]
    counts = Counter(str(s.get("event")) for s in own)
    if counts:
        lines.append("  events: " + ", ".join(f"{e}×{n}" for e, n in counts.items()))
    reads = [s for s in steps if s.get("event") == "read"]
    changing: bool | None
    if reads:
        text, changing = _reads_summary(reads)
        lines.append("  " + text)
    else:
        changing = _winner_changes(own)
        if isinstance(opened, int) and opened:
            lines.append(
                f"  width/depth: {opened} branches, {record.cost / opened:,.0f} tokens each"
            )
    if own:
        last = own[-1]
        lines.append(
            f"  stopped after {last.get('event')}: {_clip(last.get('decision', ''))}; "
            f"output {_clip(last.get('output'))}"
        )
    extra = {k: v for k, v in out.items() if k not in {"answer", "tokens", "sequential_tokens"}}
    if extra:
        lines.append(f"  finish: {_clip(extra)}")
    if changing:
        lines.append("  ! stopped while the majority was still changing")
    return "\n".join(lines)


def _file_section(label: str, records: Sequence[EpisodeRecord], show: int) -> list[str]:
    n = len(records)
    if not n:
        return [f"## {label}", "", "no episodes traced", ""]
    accuracy = 100 * sum(r.correct for r in records) / n
    tokens = sum(r.cost for r in records) / n
    late = sum(1 for r in records if "still changing" in digest_episode(r))
    lines = [
        f"## {label}",
        "",
        f"{n} episodes traced: accuracy {accuracy:.1f} %, {tokens:,.0f} tokens per question; "
        f"{late} stopped while the majority was still changing.",
        "",
    ]
    wrong = [r for r in records if not r.correct]
    wrong.sort(key=lambda r: -r.cost)
    costly = sorted((r for r in records if r.correct), key=lambda r: -r.cost)
    if wrong:
        lines += [f"Wrong ({len(wrong)}; the costliest shown):", ""]
        lines += [digest_episode(r) for r in wrong[:show]]
        lines.append("")
    if costly:
        lines += ["Most expensive correct ones:", ""]
        lines += [digest_episode(r) for r in costly[: max(1, show // 2)]]
        lines.append("")
    return lines


def trace_digest(
    traces: Sequence[tuple[str, Sequence[EpisodeRecord]]],
    *,
    title: str = "",
    max_chars: int = DEFAULT_DIGEST_CHARS,
) -> str:
    """The digest of ``(file label, episodes)`` pairs, cut to at most ``max_chars``.

    Shows fewer episodes per file until it fits; a last resort truncates the text.
    """
    for show in (4, 3, 2, 1):
        lines = [f"# Trace digest{': ' + title if title else ''}", ""]
        for label, records in traces:
            lines += _file_section(label, records, show)
        text = "\n".join(lines).rstrip() + "\n"
        if len(text) <= max_chars:
            return text
    return text[: max_chars - 40].rstrip() + "\n\n… (cut to the digest size limit)\n"
