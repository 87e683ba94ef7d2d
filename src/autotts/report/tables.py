"""Render result rows as aligned text, Markdown or CSV."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from autotts.evaluation.results import to_csv

__all__ = ["format_tokens", "render_rows"]


def format_tokens(tokens: float) -> str:
    """Tokens in thousands with one decimal, as the paper prints them (236,735 -> 236.7k)."""
    return f"{tokens / 1000:.1f}k"


def _cells(row: dict[str, Any], columns: Sequence[str]) -> list[str]:
    out = []
    for column in columns:
        value = row[column]
        if column in ("tokens", "seq_tokens"):
            out.append(format_tokens(float(value)))
        elif column == "accuracy":
            out.append(f"{float(value):.2f}")
        else:
            out.append(str(value))
    return out


def render_rows(rows: list[dict[str, Any]], style: str = "text") -> str:
    """``style``: ``text`` (aligned columns), ``markdown`` or ``csv`` (raw numbers)."""
    if not rows:
        return ""
    if style == "csv":
        return to_csv(rows)
    columns = list(rows[0])
    body = [_cells(row, columns) for row in rows]
    if style == "markdown":
        lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
        lines += ["| " + " | ".join(cells) + " |" for cells in body]
        return "\n".join(lines) + "\n"
    widths = [max(len(c), *(len(cells[i]) for cells in body)) for i, c in enumerate(columns)]
    numeric = {"accuracy", "tokens", "seq_tokens"}

    def line(cells: Sequence[str]) -> str:
        return "  ".join(
            cell.rjust(w) if col in numeric else cell.ljust(w)
            for cell, w, col in zip(cells, widths, columns)
        ).rstrip()

    return "\n".join([line(columns), *(line(cells) for cells in body)]) + "\n"
