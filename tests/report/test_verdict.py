"""The verdict's words for each way a selection can compare with the baselines."""

from __future__ import annotations

from typing import Any

from autotts.discovery.heldout_records import DiscoverHeldout, HeldoutPoint, OptimizerHeldout
from autotts.discovery.records import Selection
from autotts.discovery.verdict import matched_baseline, twins, verdict

SELECTION = Selection(round=4, beta=1.0, rule="accuracy", name="cand")
FILES = [("M", "aime25"), ("M", "hmmt25")]


def _points(methods: dict[str, list[tuple[float, float]]]) -> list[dict[str, Any]]:
    return [
        {"method": m, "model": f[0], "benchmark": f[1], "accuracy": a, "tokens": t, "beta": 1.0}
        for m, cells in methods.items()
        for f, (a, t) in zip(FILES, cells)
    ]


def _heldout(methods: dict[str, list[tuple[float, float]]], **extra: Any) -> DiscoverHeldout:
    return DiscoverHeldout.from_dict(
        {"candidate": "round 4: cand", "points": _points(methods), **extra}
    )


def test_a_twin_is_named_first() -> None:
    ours = [(56.0, 300e3), (40.0, 400e3)]
    held = _heldout({"round 4: cand": ours, "SC@64": [(50, 1e6), (38, 1e6)], "CMC β=1.0": ours})
    assert twins(held.points, "round 4: cand") == ["CMC β=1.0"]
    said = verdict(held, SELECTION)
    assert said["kind"] == "twin"
    assert said["headline"].startswith("Round 4 (cand) at β = 1 is CMC β=1.0's twin")


def test_beaten_by_a_cheaper_baseline_that_is_as_accurate() -> None:
    held = _heldout(
        {
            "round 4: cand": [(56.0, 265e3), (40.0, 265e3)],
            "CMC β=0.5": [(56.5, 196e3), (40.1, 196e3)],
            "SC@64": [(50.0, 1e6), (38.0, 1e6)],
        }
    )
    said = verdict(held, SELECTION)
    assert said["kind"] == "beaten"
    expected = "Beaten by CMC β=0.5: 48.30 % at 196k vs the selection's 48.00 % at 265k"
    assert said["headline"].startswith(expected)


def test_matched_tokens_and_the_paired_interval_decide_the_words() -> None:
    methods = {
        "round 4: cand": [(60.0, 200e3), (44.0, 200e3)],
        "CMC β=0.5": [(56.0, 210e3), (40.0, 210e3)],  # within 10 % more tokens: matched
        "SC@64": [(61.0, 1e6), (45.0, 1e6)],  # more accurate, but five times the tokens
    }
    points = [HeldoutPoint.from_dict(p) for p in _points(methods)]
    assert matched_baseline(points, "round 4: cand") == "CMC β=0.5"
    clear = {"baseline": "CMC β=0.5", "gain": 4.0, "ci95": [1.5, 6.5], "p_not_positive": 0.0}
    said = verdict(_heldout(methods, paired=clear), SELECTION)
    assert said["kind"] == "better"
    assert "clearly more accurate than CMC β=0.5 at matched tokens" in said["headline"]
    assert "95 % bootstrap interval [+1.50, +6.50]" in " ".join(said["lines"])
    vague = {**clear, "ci95": [-0.5, 8.5]}
    said = verdict(_heldout(methods, paired=vague), SELECTION)
    assert said["kind"] == "unclear" and "not distinguishable from" in said["headline"]
    assert "(no paired interval)" in " ".join(verdict(_heldout(methods), SELECTION)["lines"])


def _optimizer_heldout(low_05: float, low_10: float, within_10: bool = True) -> OptimizerHeldout:
    """An optimize run's record: curves for the winner and CMC (β 0, 0.5, 1) and SC, and
    gains at CMC's two budgets for the winner's β 0.5 (chosen at 0.5) and 1.0 (at 1.0)."""
    points = []
    for method, curve in {
        "winner": [(0.0, 30.0, 100e3), (0.5, 46.0, 300e3), (1.0, 48.0, 560e3)],
        "cmc": [(0.0, 29.0, 90e3), (0.5, 45.0, 330e3), (1.0, 47.0, 620e3)],
        "sc": [(0.0, 20.0, 17e3), (1.0, 45.0, 1e6)],
    }.items():
        for beta, acc, tok in curve:
            for model, bench in FILES:
                point = {"method": method, "model": model, "benchmark": bench, "beta": beta}
                points.append({**point, "accuracy": acc, "tokens": tok})

    def row(beta: float, acc: float, tok: float, gain: float, low: float, within: bool) -> dict:
        return {
            "beta": beta, "accuracy": acc, "tokens": tok, "within_budget": within,
            "search_choice": True, "gain": gain, "ci95": [low, low + 1.0],
            "p_not_positive": 0.5,
        }  # fmt: skip

    gains = [
        {"cmc_beta": 0.5, "cmc_accuracy": 45.0, "cmc_tokens": 330e3,
         "candidates": [row(0.5, 46.0, 300e3, 1.0, low_05, True)]},
        {"cmc_beta": 1.0, "cmc_accuracy": 47.0, "cmc_tokens": 620e3,
         "candidates": [row(1.0, 48.0, 560e3 if within_10 else 700e3, 1.0, low_10, within_10)]},
    ]  # fmt: skip
    return OptimizerHeldout.from_dict(
        {"points": points, "gains": gains, "sc64_share": {"winner": 0.22, "cmc": 0.29}}
    )


OPT_SELECTION = Selection(round=7, beta=1.0, rule="optimizer", name="opt-winner")


def test_an_optimize_run_is_judged_at_each_budget_by_its_chosen_beta_not_a_curve_mean() -> None:
    said = verdict(_optimizer_heldout(low_05=0.2, low_10=-0.4), OPT_SELECTION)
    assert said["kind"] == "unclear"
    assert said["headline"] == (
        "Round 7 (opt-winner) is clearly more accurate than CMC β=0.5 within its tokens "
        "(+1.00 points at β = 0.5) and not distinguishable from CMC β=1.0 within its tokens "
        "(+1.00 points at β = 1)."
    )
    text = " ".join(said["lines"])
    # the chosen rows' own numbers; a mean over each curve's β would give 41.33 % and 320k
    assert "at β = 1, the β the search set chose for it, 48.00 % at 560k" in text
    assert "(CMC: 47.00 % at 620k)" in text and "41.33" not in text
    assert "at 22% of SC@64's tokens (CMC: 29%)" in text
    assert verdict(_optimizer_heldout(0.2, 0.1), OPT_SELECTION)["kind"] == "better"
    assert verdict(_optimizer_heldout(-3.0, -2.0), OPT_SELECTION)["kind"] == "worse"


def test_a_chosen_beta_that_spends_more_than_cmc_is_not_a_win() -> None:
    said = verdict(_optimizer_heldout(0.2, 0.1, within_10=False), OPT_SELECTION)
    assert said["kind"] == "unclear"
    assert "more tokens than CMC: outside the budget" in " ".join(said["lines"])


def test_the_report_shows_an_optimize_run_at_its_operating_points() -> None:
    from autotts.report.html import _heldout

    shown = _heldout(_optimizer_heldout(0.2, -0.4), OPT_SELECTION)
    assert shown is not None
    # the selection's β first: the row (and point) drawn as the selection
    assert [r["method"] for r in shown["rows"]] == [
        "winner β=1", "winner β=0.5", "CMC β=0.5", "CMC β=1.0", "SC@64"
    ]  # fmt: skip
    means = {r["method"]: r["mean"] for r in shown["rows"]}
    assert means["winner β=1"] == (48.0, 560e3) and means["SC@64"] == (45.0, 1e6)


def test_runs_side_by_side_show_an_optimize_runs_verdict_and_operating_point() -> None:
    from autotts.report.side_by_side import _differing, _heldout_row

    row = _heldout_row({"heldout": _optimizer_heldout(0.2, -0.4), "selection": OPT_SELECTION})
    assert row["mean"] == (48.0, 560e3)  # the winner at the selection's β, not a curve mean
    assert row["headline"].startswith("Round 7 (opt-winner) is clearly more accurate than")
    # a setting no run has (a discovery run's sampler) is neither a difference nor "the same"
    settings = {"proposer": {"kind": "llm"}, "search": [], "heldout": []}
    rows, same = _differing([{"settings": settings}, {"settings": settings}])
    assert "sampler" not in same and "proposer" in same and rows == []
