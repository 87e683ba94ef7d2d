"""The history a proposer reads: earlier rounds from the run directory, cut to a budget."""

from __future__ import annotations

import json
from typing import Any

from autotts.discovery.records import RoundEntry, Selection
from autotts.discovery.rundir import RunDir
from autotts.discovery.selection import select

__all__ = ["DEFAULT_CONTEXT_BUDGET", "best_in_history", "cut_history", "entry_size", "load_history"]

#: Characters of history a prompt may carry (≈ 30k tokens at ~4 characters a token).
DEFAULT_CONTEXT_BUDGET = 120_000

OMITTED = "(omitted to fit the context budget; see the run directory)"


def load_history(run: RunDir) -> list[dict[str, Any]]:
    """Every finished round, oldest first: index line + code, check, curves, digest, summary.

    The entries are what prompts and a coding agent's HISTORY.md are rendered from, so
    they stay JSON objects: the index line's keys plus the round's files.
    """
    entries = []
    for line in run.index():
        number = int(line.round)
        folder = run.round_dir(number)
        proposal = _json_or_empty(folder / "proposal.json")
        curves = _json_or_empty(folder / "curves.json")
        entries.append(
            {
                **line.to_dict(),
                "code": run.round_text(number, "candidate.py"),
                "check": _json_or_empty(folder / "check.json"),
                "points": curves.get("points", []),
                "digest": run.round_text(number, "traces.md"),
                "summary": proposal.get("summary", ""),
            }
        )
    return entries


def _json_or_empty(path: Any) -> dict[str, Any]:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return {}
    return value if isinstance(value, dict) else {}


def best_in_history(history: list[dict[str, Any]]) -> Selection | None:
    """The round the paper's rule picks among ``history``'s entries (their index-line keys)."""
    return select([RoundEntry.from_dict(e) for e in history], "accuracy")


def entry_size(entry: dict[str, Any]) -> int:
    """Characters an entry adds to a prompt (code, digest, curves, summary, detail)."""
    return (
        len(entry.get("code", ""))
        + len(entry.get("digest", ""))
        + len(entry.get("summary", ""))
        + len(str(entry.get("check", {}).get("detail", "")))
        + 120 * len(entry.get("points", []))
    )


def cut_history(history: list[dict[str, Any]], budget: int) -> list[dict[str, Any]]:
    """Fit ``history`` into ``budget`` characters.

    The best round (by the paper's rule) and the latest round are kept whole. Other
    rounds, oldest first, lose their code and digest (their curves and verdict stay);
    if that is still too much, their per-file points go too. Marked ``"cut": True``.
    """
    entries = [dict(e) for e in history]
    if not entries:
        return entries
    keep = {entries[-1]["round"]}
    best = best_in_history(entries)
    if best is not None:
        keep.add(best.round)
    cuttable = [e for e in entries if e["round"] not in keep]

    def total() -> int:
        return sum(entry_size(e) for e in entries)

    for stage in ("code", "points"):
        for entry in cuttable:
            if total() <= budget:
                return entries
            entry["cut"] = True
            if stage == "code":
                entry["code"] = OMITTED
                entry["digest"] = OMITTED
            else:
                entry["points"] = []
    return entries
