"""The paired bootstrap (autotts.evaluation.paired) on hand-made per-question numbers whose
answer is known, the matching at tokens, and the per-question numbers of a result."""

from __future__ import annotations

import numpy as np
import pytest

from autotts.errors import UnknownName, UsageError
from autotts.evaluation.paired import (
    CurvePoint,
    compare,
    paired_bootstrap,
    question_diffs,
    question_key,
    resample_means,
)
from autotts.evaluation.paired_gain import paired_gain
from autotts.evaluation.results import summarise
from autotts.evaluation.runner import EpisodeTable


def _table(correct: np.ndarray, tokens: float | np.ndarray = 1000.0) -> EpisodeTable:
    cost = np.broadcast_to(np.asarray(tokens, dtype=np.float64), correct.shape).copy()
    return EpisodeTable(correct=correct.astype(bool), cost=cost, sequential_cost=cost / 2)


def test_identical_controllers_give_exactly_zero() -> None:
    rng = np.random.default_rng(3)
    correct = rng.random((5, 30)) < 0.4
    diffs = question_diffs([_table(correct)], [_table(correct)])
    result = paired_bootstrap(diffs, draws=2000)
    assert result.gain == 0.0
    assert (result.low, result.high) == (0.0, 0.0)
    assert result.p_not_positive == 1.0


def test_right_on_strictly_more_questions_is_above_zero() -> None:
    # B is right on questions 0-9; A on those and on 10-19 as well, wrong nowhere B is right
    base = np.zeros((4, 30), dtype=bool)
    base[:, :10] = True
    better = base.copy()
    better[:, 10:20] = True
    result = paired_bootstrap(question_diffs([_table(better)], [_table(base)]), draws=4000)
    assert result.gain == pytest.approx(100.0 * 10 / 30)
    assert result.low > 0.0
    assert result.low < result.gain < result.high
    assert result.p_not_positive == 0.0


def test_pooled_draws_resample_a_question_for_every_model_at_once() -> None:
    # Two models disagree exactly: what one gains on a question, the other loses. Drawing
    # each question jointly for both, every draw's pooled gain is exactly 0; drawing the
    # models independently, the draws spread.
    rng = np.random.default_rng(0)
    x = rng.normal(0.0, 20.0, size=30)
    diffs = [x, -x]
    joint = paired_bootstrap(diffs, groups=["aime24", "aime24"], draws=2000)
    assert (joint.low, joint.high) == (0.0, 0.0)
    apart = paired_bootstrap(diffs, draws=2000)
    assert apart.high - apart.low > 5.0
    # different benchmarks are different questions: drawn apart, as with no groups
    other = paired_bootstrap(diffs, groups=["aime24", "hmmt25"], draws=2000)
    assert (other.low, other.high) == (apart.low, apart.high)


def test_a_group_must_hold_the_same_number_of_questions() -> None:
    with pytest.raises(ValueError, match="differ in questions"):
        resample_means([np.zeros(30), np.zeros(29)], 10, np.random.default_rng(0), ["a", "a"])


def test_the_level_sets_the_tails() -> None:
    rng = np.random.default_rng(1)
    diffs = [rng.normal(2.0, 30.0, size=30)]
    boot = resample_means(diffs, 3000, np.random.default_rng(7))
    r95 = paired_bootstrap(diffs, draws=3000, seed=7)
    assert (r95.low, r95.high) == tuple(np.percentile(boot, [2.5, 97.5]))
    r80 = paired_bootstrap(diffs, draws=3000, seed=7, level=0.8)
    assert (r80.low, r80.high) == tuple(np.percentile(boot, [10.0, 90.0]))
    assert r95.low < r80.low < r80.high < r95.high
    with pytest.raises(UsageError):
        paired_bootstrap(diffs, level=1.0)


def test_the_optimiser_s_numbers_are_unchanged() -> None:
    # Pinned from the optimiser's own bootstrap before it moved to the shared module
    # (two files of 30 questions, 10,000 draws, seed 0): the same draws, the same floats.
    rng = np.random.default_rng(42)
    a = [_table(rng.random((6, 30)) < p) for p in (0.5, 0.3)]
    b = [_table(rng.random((6, 30)) < p) for p in (0.45, 0.3)]
    assert paired_gain(a, b, groups=None).to_dict() == PINNED_GAIN
    # the same two files as one question set: drawn jointly, another interval, and the
    # per-file one kept beside it
    joint = paired_gain(a, b, groups=["aime24", "aime24"]).to_dict()
    assert joint["gain"] == PINNED_GAIN["gain"] and joint["ci95"] != PINNED_GAIN["ci95"]
    assert joint["ci95_per_file"] == PINNED_GAIN["ci95"]


PINNED_GAIN = {
    "gain": 6.666666666666666,
    "ci95": [3.5471625636773804e-16, 13.333333333333336],
    "p_not_positive": 0.0241,
}


def _point(beta: float, accuracy: dict[tuple[str, str], list[float]], tokens: float) -> CurvePoint:
    acc = {c: np.array(v, dtype=np.float64) for c, v in accuracy.items()}
    tok = {c: np.full(len(v), tokens) for c, v in accuracy.items()}
    return CurvePoint(beta, acc, tok)


CELLS = {("m1", "bench"): "bench:x", ("m2", "bench"): "bench:x"}


def _b_curve() -> list[CurvePoint]:
    return [
        _point(0.0, {c: [0.0, 0.0, 0.0, 0.0] for c in CELLS}, 100.0),
        _point(0.5, {c: [100.0, 0.0, 0.0, 0.0] for c in CELLS}, 200.0),
        _point(1.0, {c: [100.0, 100.0, 0.0, 0.0] for c in CELLS}, 400.0),
    ]


def test_at_least_takes_b_s_cheapest_point_with_as_many_tokens() -> None:
    a = [_point(0.3, {c: [100.0, 100.0, 100.0, 0.0] for c in CELLS}, 150.0)]
    rows = compare(a, _b_curve(), CELLS, draws=500)
    assert [r["scope"] for r in rows] == ["cell", "cell", "pooled"]
    for r in rows:
        assert r["b_betas"] == [0.5] and r["b_weights"] == [1.0] and r["matched"]
        assert r["b_tokens"] == 200.0 and r["gain"] == pytest.approx(50.0)
    assert rows[-1]["cells"] == 2 and rows[-1]["model"] is None


def test_at_least_beyond_b_s_curve_is_marked_unmatched() -> None:
    a = [_point(1.0, {c: [0.0, 0.0, 0.0, 0.0] for c in CELLS}, 500.0)]
    rows = compare(a, _b_curve(), CELLS, draws=100)
    assert all(r["b_betas"] == [1.0] and not r["matched"] for r in rows)


def test_interpolate_mixes_the_two_b_points_around_a_s_tokens() -> None:
    a = [_point(0.3, {c: [100.0, 0.0, 0.0, 0.0] for c in CELLS}, 300.0)]
    row = compare(a, _b_curve(), CELLS, match="interpolate", draws=100)[-1]
    assert row["b_betas"] == [0.5, 1.0] and row["b_weights"] == pytest.approx([0.5, 0.5])
    assert row["b_tokens"] == pytest.approx(300.0)
    assert row["b_accuracy"] == pytest.approx(37.5) and row["gain"] == pytest.approx(-12.5)
    assert row["matched"]
    with pytest.raises(UnknownName):
        compare(a, _b_curve(), CELLS, match="nearest")


def test_question_sets_are_keyed_by_benchmark_and_texts() -> None:
    assert question_key("aime24", ["q1", "q2"]) == question_key("aime24", ["q1", "q2"])
    assert question_key("aime24", ["q1", "q2"]) != question_key("aime24", ["q2", "q1"])
    assert question_key("aime24", ["q1"]) != question_key("aime25", ["q1"])


def test_a_result_carries_its_per_question_numbers() -> None:
    correct = np.array([[1, 0, 1], [1, 0, 0]], dtype=bool)
    tokens = np.array([[10.0, 20.0, 30.0], [30.0, 40.0, 50.0]])
    table = EpisodeTable(correct=correct, cost=tokens, sequential_cost=tokens / 10)
    metrics = summarise(table)
    assert [q.to_dict() for q in metrics.per_question] == [
        {"question": 0, "accuracy": 100.0, "tokens": 20.0, "seq_tokens": 2.0},
        {"question": 1, "accuracy": 0.0, "tokens": 30.0, "seq_tokens": 3.0},
        {"question": 2, "accuracy": 50.0, "tokens": 40.0, "seq_tokens": 4.0},
    ]
    # the file's numbers are the means of the questions'
    assert np.mean([q.accuracy for q in metrics.per_question]) == pytest.approx(metrics.accuracy)
    assert np.mean([q.tokens for q in metrics.per_question]) == pytest.approx(metrics.tokens)
