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

from autotts.discovery.curves import best_point
from autotts.discovery.records import AggregatePoint, RoundEntry, Selection
from autotts.errors import UnknownName

__all__ = ["RULES", "select"]

RULES: dict[str, str] = {
    "accuracy": "best mean search-set accuracy over the search files (ties: fewer mean "
    "tokens, then the earlier round)",
    "auc": "largest area under mean search-set accuracy vs log10(mean tokens), divided by "
    "the log10 token span (the curve's average accuracy); β within it by best accuracy",
}


def curve_auc(agg: Sequence[AggregatePoint]) -> float:
    """Normalised area under accuracy vs log10(tokens) of one aggregate curve."""
    return area_under([(a.tokens, a.accuracy) for a in agg])


def area_under(curve: Sequence[tuple[float, float]]) -> float:
    """:func:`curve_auc` of ``(tokens, accuracy)`` pairs."""
    pts = sorted((math.log10(max(tokens, 1.0)), accuracy) for tokens, accuracy in curve)
    if len(pts) == 1 or pts[-1][0] - pts[0][0] <= 0:
        return float(max(p[1] for p in pts))
    area = sum((x1 - x0) * (y0 + y1) / 2 for (x0, y0), (x1, y1) in itertools.pairwise(pts))
    return float(area / (pts[-1][0] - pts[0][0]))


def select(rounds: Sequence[RoundEntry], rule: str = "accuracy") -> Selection | None:
    """Pick from ``rounds`` (index lines); None if none fits.

    The selection has no ``class`` and no ``read``: the caller adds what it records.
    """
    if rule not in RULES:
        raise UnknownName("selection rule", rule, RULES)
    scored = []
    for entry in rounds:
        if not entry.accepted or not entry.aggregate:
            continue
        if entry.raced_out:  # stopped by --race: dominated, and on fewer seeds
            continue
        best = best_point(entry.aggregate)
        assert best is not None
        if rule == "accuracy":
            key: tuple[float, ...] = (-round(best.accuracy, 9), best.tokens, entry.round)
            score = best.accuracy
        else:
            score = curve_auc(entry.aggregate)
            key = (-round(score, 9), entry.round)
        scored.append((key, entry, best, score))
    if not scored:
        return None
    _, entry, best, score = min(scored, key=lambda s: s[0])
    return Selection(
        round=entry.round,
        name=entry.name,
        beta=best.beta,
        rule=rule,
        objective=RULES[rule],
        score=score,
        search_accuracy=best.accuracy,
        search_tokens=best.tokens,
    )
