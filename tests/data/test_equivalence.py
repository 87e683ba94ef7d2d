"""Equivalent answers vote and score as one under ``--answers equivalence``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from autotts.controllers.registry import ControllerSpec, build
from autotts.data.equivalence import answer_classes, canonicalise
from autotts.evaluation.jobs import DataRef, EvalJob, evaluate
from autotts.evaluation.protocols import ReferenceProtocol
from autotts.evaluation.runner import run_episodes
from tests.helpers import make_replay


def test_answer_classes() -> None:
    texts = [
        "\\frac{9\\sqrt{23}}{23}",
        "ERR",
        "7",
        "\\frac{9 \\sqrt{23}}{23}",
        "07",
        "ERR",
        "\\frac{14}{2}",
        "x+1",
        "1+x",
        "0.5",
        "\\frac{9\\sqrt{23}}{23}",
    ]
    classes = answer_classes(texts)
    assert classes == [0, 1, 2, 0, 2, 5, 2, 7, 7, 9, 0]  # the last entry is the gold's
    assert answer_classes(["1", "2", "3"]) == [0, 1, -1]  # a gold matching nothing


def test_canonicalised_votes_and_scores_merge() -> None:
    # String majority is "3" (2 votes); the three spellings of one half win once merged.
    finals = ["3", "\\frac{1}{2}", "3", "0.5", "\\dfrac{1}{2}"]
    replay = make_replay([[([f], 700, f) for f in finals]], gold=["1/2"])
    sc = build(ControllerSpec("sc", params={"n": 5}))
    assert not run_episodes(sc, replay, ReferenceProtocol(seeds=3)).correct.any()
    merged = canonicalise(replay)
    assert merged.answers == "equivalence"
    assert merged.provenance()["answers"] == "equivalence"
    assert "answers" not in replay.provenance()
    for vectorised in (True, False):
        table = run_episodes(sc, merged, ReferenceProtocol(seeds=3), vectorised=vectorised)
        assert table.correct.all()
    assert merged.gold == ("\\frac{1}{2}",)


def test_eval_option_uses_the_disk_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    document = [
        {
            "question": "q",
            "gold_answer": "2",
            "probe_freq": 500,
            "each_branch": [[["2.0"], 600, "2.0"], [["1"], 600, "1"], [["2"], 600, "2"]],
        }
    ]
    path = tmp_path / "store" / "M" / "b.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(document))
    job = EvalJob(
        DataRef(str(tmp_path / "store"), "M", "b", answers="equivalence"),
        ControllerSpec("sc", params={"n": 3}),
        ReferenceProtocol(seeds=2),
    )
    result = evaluate(job)
    assert result.metrics.accuracy == 100.0
    assert result.data["answers"] == "equivalence"
    assert len(list((tmp_path / "cache" / "autotts" / "equivalence").glob("*.json"))) == 1
