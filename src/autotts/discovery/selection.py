"""Choosing the controller and β a search ends with.

Rules, each with the objective it states in ``selection.json``:

* ``accuracy`` (the paper's): the accepted round and β with the best mean
  search-set accuracy over the search files; ties go to fewer mean tokens, then
  to the earlier round.
* ``auc``: the accepted round whose curve has the largest normalised area under
  mean accuracy vs log10(mean tokens) over the β grid (the curve's average
  accuracy across the token range it spans; a single-point curve scores its
  accuracy); within it, β by the ``accuracy`` rule.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Any

from autotts.discovery.curves import best_point
from autotts.errors import UnknownName

__all__ = ["RULES", "select"]

RULES: dict[str, str] = {
    "accuracy": "best mean search-set accuracy over the search files (ties: fewer mean "
    "tokens, then the earlier round)",
    "auc": "largest area under mean search-set accuracy vs log10(mean tokens), divided by "
    "the log10 token span (the curve's average accuracy); β within it by best accuracy",
}


def curve_auc(agg: Sequence[dict[str, Any]]) -> float:
    """Normalised area under accuracy vs log10(tokens) of one aggregate curve."""
    pts = sorted((math.log10(max(a["tokens"], 1.0)), a["accuracy"]) for a in agg)
    if len(pts) == 1 or pts[-1][0] - pts[0][0] <= 0:
        return float(max(p[1] for p in pts))
    area = sum((x1 - x0) * (y0 + y1) / 2 for (x0, y0), (x1, y1) in itertools.pairwise(pts))
    return float(area / (pts[-1][0] - pts[0][0]))


def select(rounds: Sequence[dict[str, Any]], rule: str = "accuracy") -> dict[str, Any] | None:
    """Pick from ``rounds`` (``{"round", "name", "verdict", "aggregate"}``); None if none fits."""
    if rule not in RULES:
        raise UnknownName("selection rule", rule, RULES)
    scored = []
    for entry in rounds:
        if entry.get("verdict") != "accepted" or not entry.get("aggregate"):
            continue
        if entry.get("raced_out"):  # stopped by --race: dominated, and on fewer seeds
            continue
        best = best_point(entry["aggregate"])
        assert best is not None
        if rule == "accuracy":
            key: tuple[float, ...] = (-round(best["accuracy"], 9), best["tokens"], entry["round"])
            score = best["accuracy"]
        else:
            score = curve_auc(entry["aggregate"])
            key = (-round(score, 9), entry["round"])
        scored.append((key, entry, best, score))
    if not scored:
        return None
    _, entry, best, score = min(scored, key=lambda s: s[0])
    return {
        "round": entry["round"],
        "name": entry.get("name", ""),
        "beta": best["beta"],
        "rule": rule,
        "objective": RULES[rule],
        "score": score,
        "search_accuracy": best["accuracy"],
        "search_tokens": best["tokens"],
    }
