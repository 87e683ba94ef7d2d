"""Descriptive statistics of a replay file: size, lengths, probes and accuracy.

:func:`summarize` reads only the compact arrays of :class:`ReplaySet`, so it is
cheap even on the full public files. Its result is a plain, JSON-ready dict;
:func:`format_summary` renders one as text and :func:`summary_table` many as a
rich table (one row per file).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from rich.table import Table
from rich.text import Text

from autotts.data.records import IntArray, ReplaySet

__all__ = ["ERR", "format_summary", "summarize", "summary_table"]

#: The probe answer that means "no answer could be parsed".
ERR = "ERR"


def summarize(replay: ReplaySet) -> dict[str, Any]:
    """Statistics of one replay set.

    - ``questions``; ``branches``: ``min``/``max`` per question and ``total``;
    - ``probe_freq``: the distinct Δ values, sorted;
    - ``tokens``: ``mean``, ``median``, ``min``, ``max`` of ``branch_tokens`` over all
      branches, and ``total``;
    - ``probes_per_branch``: mean number of probes; ``err_fraction``: share of probe
      answers that are ``"ERR"`` (final answers not counted), ``None`` when the set has
      no probe at all (every branch ended within its first Δ tokens), so "no probes"
      never reads as "no ERR probes"; ``err_final_fraction``: share of final answers
      that are ``"ERR"``;
    - ``pass_at_1``: mean over questions of the share of branches whose final answer
      is the gold answer;
    - ``majority_at_all``: share of questions where the majority vote over all final
      answers (ties to the answer that appears first) is the gold answer;
    - ``pass_at_all``: share of questions where some branch ends on the gold answer;
    - ``probe_confidence`` (only for data with confidences, so other summaries are as
      they were): ``share`` of probes that have one, their ``mean``.
    """
    per_question = [q.n_branches for q in replay.questions]
    tokens = np.concatenate([q.tokens for q in replay.questions])
    n_probes = np.concatenate([q.n_probes for q in replay.questions])
    err_probes = err_finals = 0
    pass_at_1: list[float] = []
    majority: list[bool] = []
    reachable: list[bool] = []
    for question, gold_id in zip(replay.questions, replay.gold_ids.tolist(), strict=True):
        err_probes += _count_err_probes(question.answers, question.steps, question.n_probes)
        if ERR in question.answers:
            err_finals += int((question.final == question.answers.index(ERR)).sum())
        hits = question.final == gold_id
        pass_at_1.append(float(hits.mean()))
        reachable.append(bool(hits.any()))
        # Final answers are interned in order of first appearance, so the lowest id
        # among the most frequent ones is the first to appear: argmax breaks ties so.
        votes = np.bincount(question.final, minlength=question.n_finals)
        majority.append(int(votes.argmax()) == gold_id)
    total_probes = int(n_probes.sum())
    extra: dict[str, Any] = {}
    if replay.has_confidence:
        values = [
            c
            for q in replay.questions
            for row in q.confidence_lists or ()
            for c in row
            if c is not None
        ]
        extra["probe_confidence"] = {
            "share": len(values) / total_probes if total_probes else 0.0,
            "mean": float(np.mean(values)) if values else None,
        }
    return {
        **replay.provenance(),
        "branches": {
            "min": min(per_question),
            "max": max(per_question),
            "total": sum(per_question),
        },
        "probe_freq": sorted({q.probe_freq for q in replay.questions}),
        "tokens": {
            "mean": float(tokens.mean()),
            "median": float(np.median(tokens)),
            "min": int(tokens.min()),
            "max": int(tokens.max()),
            "total": int(tokens.sum()),
        },
        "probes_per_branch": float(n_probes.mean()),
        "err_fraction": err_probes / total_probes if total_probes else None,
        "err_final_fraction": err_finals / sum(per_question),
        "pass_at_1": float(np.mean(pass_at_1)),
        "majority_at_all": float(np.mean(majority)),
        "pass_at_all": float(np.mean(reachable)),
        **extra,
    }


def _count_err_probes(answers: tuple[str, ...], steps: IntArray, n_probes: IntArray) -> int:
    try:
        err_id = answers.index(ERR)
    except ValueError:
        return 0
    in_probes = np.arange(steps.shape[1])[None, :] < n_probes[:, None]
    return int(((steps == err_id) & in_probes).sum())


def _branches(summary: dict[str, Any]) -> str:
    b = summary["branches"]
    per_question = str(b["min"]) if b["min"] == b["max"] else f"{b['min']}-{b['max']}"
    return f"{per_question} per question, {b['total']:,} in all"


def _delta(summary: dict[str, Any]) -> str:
    return ", ".join(str(d) for d in summary["probe_freq"])


def _err_probes(summary: dict[str, Any]) -> str:
    if summary["err_fraction"] is None:
        return "- (no probes: every branch ended within its first Δ tokens)"
    return f"{100 * summary['err_fraction']:.2f} %"


def format_summary(summary: dict[str, Any]) -> str:
    """A multi-line text rendering of one :func:`summarize` result."""
    t = summary["tokens"]
    name = f"{summary['model']}/{summary['benchmark']}".strip("/") or summary["source"]
    rows = [
        ("file", summary["source"]),
        ("sha256", summary["sha256"] or "-"),
        ("questions", str(summary["questions"])),
        ("branches", _branches(summary)),
        ("probe interval Δ", f"{_delta(summary)} tokens"),
        (
            "branch tokens",
            f"mean {t['mean']:,.0f}, median {t['median']:,.0f}, min {t['min']:,}, max {t['max']:,}",
        ),
        ("probes per branch", f"{summary['probes_per_branch']:.2f} (mean)"),
        ("ERR probes", _err_probes(summary)),
        ("ERR final answers", f"{100 * summary['err_final_fraction']:.2f} %"),
        ("pass@1", f"{100 * summary['pass_at_1']:.2f} %"),
        ("majority@all", f"{100 * summary['majority_at_all']:.2f} %"),
        ("pass@all", f"{100 * summary['pass_at_all']:.2f} %"),
    ]
    confidence = summary.get("probe_confidence")
    if confidence is not None:
        mean = "-" if confidence["mean"] is None else f"{confidence['mean']:.3f}"
        rows.append(
            ("probe confidence", f"on {100 * confidence['share']:.2f} % of probes, mean {mean}")
        )
    width = max(len(label) for label, _ in rows)
    lines = [name] + [f"  {label:<{width}}  {value}" for label, value in rows]
    return "\n".join(lines) + "\n"


def summary_table(summaries: Sequence[dict[str, Any]], title: str | None = None) -> Table:
    """One row per file: the headline numbers of several :func:`summarize` results.

    Names and the title are plain :class:`Text`: a path or folder name is not markup
    (``x[/y]`` would be a closing tag, and ``[v2]`` a style).
    """
    table = Table(title=Text(title) if title else None, show_edge=False, pad_edge=False)
    table.add_column("file", no_wrap=True)
    for header in ("Q", "branches", "Δ", "tokens mean", "median", "probes/br", "ERR %"):
        table.add_column(header, justify="right", no_wrap=True)
    for header in ("pass@1 %", "maj@all %", "pass@all %"):
        table.add_column(header, justify="right", no_wrap=True)
    for s in summaries:
        b = s["branches"]
        table.add_row(
            Text(f"{s['model']}/{s['benchmark']}"),
            str(s["questions"]),
            f"{b['total']:,}",
            _delta(s),
            f"{s['tokens']['mean']:,.0f}",
            f"{s['tokens']['median']:,.0f}",
            f"{s['probes_per_branch']:.1f}",
            "-" if s["err_fraction"] is None else f"{100 * s['err_fraction']:.1f}",
            f"{100 * s['pass_at_1']:.2f}",
            f"{100 * s['majority_at_all']:.2f}",
            f"{100 * s['pass_at_all']:.2f}",
        )
    return table
