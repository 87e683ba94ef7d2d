"""Build small replay sets from hand-written branches, through the real parser.

A branch is ``(probe_list, branch_tokens, final_answer)``, as in the upstream
``each_branch`` format. ``make_replay([[(["a", "ERR", "b"], 1400, "b"), ...]], gold=["b"])``
is a one-question :class:`ReplaySet` whose branches are exactly those written.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from autotts.data.loading import parse_replay
from autotts.data.records import ReplayQuestion, ReplaySet

Branch = tuple[Sequence[str], int, str]


def make_replay(
    questions: Sequence[Sequence[Branch]],
    *,
    gold: Sequence[str] | None = None,
    probe_freq: int = 500,
    texts: Sequence[str] | None = None,
) -> ReplaySet:
    """One question per entry of ``questions``; gold defaults to each question's first final."""
    document = []
    for q, branches in enumerate(questions):
        rows = [[list(probes), tokens, final] for probes, tokens, final in branches]
        document.append(
            {
                "question": texts[q] if texts is not None else f"question {q}",
                "gold_answer": gold[q] if gold is not None else rows[0][2],
                "probe_freq": probe_freq,
                "final_answers_trace": [row[2] for row in rows],
                "each_branch": rows,
            }
        )
    return parse_replay(document, source="hand-built")


def make_question(branches: Sequence[Branch], *, probe_freq: int = 500) -> ReplayQuestion:
    """The single question of ``make_replay([branches])``."""
    return make_replay([branches], probe_freq=probe_freq).questions[0]


def random_branches(rng: np.random.Generator, n: int, *, alphabet: int = 3) -> list[Branch]:
    """``n`` random branches: 0..8 probes, lengths on both sides of Δ·n_probes (Δ = 500)."""
    symbols = [chr(ord("a") + i) for i in range(alphabet)] + ["ERR"]
    branches: list[Branch] = []
    for _ in range(n):
        n_probes = int(rng.integers(0, 9))
        probes = [symbols[int(rng.integers(len(symbols)))] for _ in range(n_probes)]
        tokens = max(0, 500 * n_probes + int(rng.integers(-900, 1500)))
        branches.append((probes, tokens, symbols[int(rng.integers(alphabet))]))
    return branches


def without_audit(result: dict[str, Any]) -> dict[str, Any]:
    """A result's dict without its audit record: the seeds of a cell's audit are drawn
    per cell, so a job split into cells records other (equally valid) audits."""
    controller = {k: v for k, v in result["controller"].items() if k != "audit"}
    return {**result, "controller": controller}


def same_numbers(result: dict[str, Any]) -> dict[str, Any]:
    """A result's dict without how its cells ran (the interpreter, its version, the
    audits), which differs between ways of running the same job with the same numbers."""
    controller = {
        k: v
        for k, v in result["controller"].items()
        if k not in ("audit", "interpreter", "interpreter_version")
    }
    return {**result, "controller": controller}


def without_audits(data: Any) -> Any:
    """JSON ``data`` with every audit record taken out, however deep (their seeds are
    drawn afresh in every run, so two runs' files differ there and nowhere else)."""
    if isinstance(data, dict):
        return {k: without_audits(v) for k, v in data.items() if k != "audit"}
    if isinstance(data, list):
        return [without_audits(v) for v in data]
    return data


def run_index(run: Path) -> list[dict[str, Any]]:
    """A run directory's ``index.jsonl`` lines (none before its first round)."""
    path = run / "index.jsonl"
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
