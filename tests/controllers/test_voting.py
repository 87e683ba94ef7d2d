"""Vote helpers behave like the published code's (Counter.most_common, scipy's Beta CDF)."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import beta

from autotts.controllers.voting import (
    TABLE_SIZE,
    beta_confidence,
    confidence_table,
    majority,
    vote_stats,
)


def test_confidence_table_is_bitwise_the_reference_beta_cdf() -> None:
    table = confidence_table()
    size = table.shape[0]
    top1 = np.arange(size, dtype=float)[:, None]
    top2 = np.arange(size, dtype=float)[None, :]
    expected = 1 - beta.cdf(0.5, top1 + 1, top2 + 1)
    assert np.array_equal(table[1:], expected[1:])
    assert (table[0] == 0).all()


@pytest.mark.parametrize(("top1", "top2"), [(1, 0), (3, 1), (10, 9), (200, 3), (5, 300)])
def test_beta_confidence_scalar(top1: int, top2: int) -> None:
    assert beta_confidence(top1, top2) == float(1 - beta.cdf(0.5, top1 + 1, top2 + 1))


def test_beta_confidence_known_values() -> None:
    assert beta_confidence(0, 5) == 0.0
    assert beta_confidence(1, 0) == pytest.approx(0.75)  # 1 - 0.5**2
    assert beta_confidence(2, 0) == pytest.approx(0.875)
    assert beta_confidence(4, 4) == pytest.approx(0.5)


@pytest.mark.parametrize(
    "answers",
    [["a"], ["b", "a"], ["a", "b", "b", "a"], ["x", "y", "z"], ["ERR", "1", "ERR", "1", "2"]],
)
def test_majority_and_vote_stats_break_ties_like_counter(answers: list[str]) -> None:
    common = Counter(answers).most_common(2)
    assert majority(answers) == common[0][0]
    assert vote_stats(answers) == (
        common[0][0],
        common[0][1],
        common[1][1] if len(common) > 1 else 0,
    )


def test_empty_votes() -> None:
    assert majority([]) is None
    assert vote_stats([]) == (None, 0, 0)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(["a", "b", "c", "d", "ERR"]), max_size=40))
def test_vote_helpers_agree_with_most_common(answers: list[str]) -> None:
    """The hot-loop helpers give exactly what Counter.most_common gives (ties included)."""
    common = Counter(answers).most_common(2)
    want_winner = common[0][0] if common else None
    want_top1 = common[0][1] if common else 0
    want_top2 = common[1][1] if len(common) > 1 else 0
    assert vote_stats(answers) == (want_winner, want_top1, want_top2)
    assert majority(answers) == want_winner


def test_beta_confidence_reads_the_scipy_table_exactly() -> None:
    table = confidence_table()
    for top1 in range(0, TABLE_SIZE, 7):
        for top2 in range(0, TABLE_SIZE, 5):
            want = 0.0 if top1 == 0 else float(table[top1, top2])
            assert beta_confidence(top1, top2) == want
            assert type(beta_confidence(top1, top2)) is float
