"""Selection rules over recorded rounds."""

from __future__ import annotations

from typing import Any

import pytest

from autotts.discovery.records import AggregatePoint, RoundEntry
from autotts.discovery.selection import curve_auc, select
from autotts.errors import UnknownName


def _round(n: int, verdict: str, curve: list[tuple[float, float, float]]) -> RoundEntry:
    line: dict[str, Any] = {
        "round": n,
        "name": f"r{n}",
        "verdict": verdict,
        "aggregate": [{"beta": b, "accuracy": a, "tokens": t} for b, a, t in curve],
    }
    return RoundEntry.from_dict(line)


ROUNDS = [
    _round(0, "accepted", [(0.0, 40.0, 1e4), (1.0, 50.0, 1e6)]),
    _round(1, "rejected", []),
    _round(2, "accepted", [(0.0, 48.0, 1e4), (0.5, 50.0, 1e5), (1.0, 49.0, 1e6)]),
    _round(3, "accepted", [(0.0, 30.0, 1e3), (1.0, 45.0, 1e4)]),
]


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        # 50.0 twice: the cheaper point (round 2, β 0.5) wins the tie.
        ("accuracy", (2, 0.5)),
        # round 2's curve stays high across its token range
        ("auc", (2, 0.5)),
    ],
)
def test_rules(rule: str, expected: tuple[int, float]) -> None:
    chosen = select(ROUNDS, rule)
    assert chosen is not None
    assert (chosen.round, chosen.beta) == expected
    assert chosen.rule == rule and chosen.objective


def test_rejected_rounds_are_never_selected_and_none_when_nothing_fits() -> None:
    assert select([ROUNDS[1]]) is None
    best_only = select([_round(1, "rejected", [(1.0, 99.0, 1.0)]), ROUNDS[3]])
    assert best_only is not None and best_only.round == 3


def test_auc_is_the_mean_accuracy_over_the_log_token_span() -> None:
    flat = [{"accuracy": 50.0, "tokens": 1e3}, {"accuracy": 50.0, "tokens": 1e6}]
    assert curve_auc([AggregatePoint.from_dict(a) for a in flat]) == pytest.approx(50.0)
    rising = [{"accuracy": 40.0, "tokens": 1e3}, {"accuracy": 60.0, "tokens": 1e5}]
    assert curve_auc([AggregatePoint.from_dict(a) for a in rising]) == pytest.approx(50.0)


def test_unknown_rule() -> None:
    with pytest.raises(UnknownName, match="selection rule"):
        select(ROUNDS, "pareto")
