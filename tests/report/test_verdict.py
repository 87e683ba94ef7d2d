"""The verdict's words for each way a selection can compare with the baselines."""

from __future__ import annotations

from typing import Any

from autotts.discovery.heldout_records import DiscoverHeldout, HeldoutPoint
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
