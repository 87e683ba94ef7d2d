"""Probe confidences in replay data: the optional ``probe_logprobs`` key, loaded and
generated; files without it load exactly as before."""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from autotts.data.loading import load_replay, parse_replay
from autotts.data.synthetic import synthesize_questions, write_synthetic_store
from autotts.errors import DataFormatError

DOC: list[dict[str, Any]] = [
    {
        "question": "q0",
        "gold_answer": "7",
        "probe_freq": 500,
        "each_branch": [[["ERR", "3", "7"], 1600, "7"], [["5"], 900, "5"], [[], 300, "7"]],
        "probe_logprobs": [[-2.0, -0.5, None], None, []],
    }
]


def test_logprobs_become_confidences_per_probe() -> None:
    question = parse_replay(DOC, source="doc").questions[0]
    assert question.confidence_lists == (
        (math.exp(-2.0), math.exp(-0.5), None),
        (None,),
        (),
    )
    assert question.confidence is not None
    assert question.confidence.shape == question.steps.shape
    assert parse_replay(DOC, source="doc").has_confidence


def test_without_the_key_a_question_has_no_confidences_and_the_rest_is_unchanged() -> None:
    plain = copy.deepcopy(DOC)
    del plain[0]["probe_logprobs"]
    a, b = parse_replay(plain, source="x"), parse_replay(DOC, source="x")
    assert a.questions[0].confidence is None and a.questions[0].confidence_lists is None
    assert not a.has_confidence
    for field in ("steps", "n_probes", "final", "tokens"):
        np.testing.assert_array_equal(
            getattr(a.questions[0], field), getattr(b.questions[0], field)
        )
    assert a.questions[0].answers == b.questions[0].answers and a.gold == b.gold


def test_all_null_is_no_confidence() -> None:
    doc = copy.deepcopy(DOC)
    doc[0]["probe_logprobs"] = [[None, None, None], None, []]
    assert parse_replay(doc, source="x").questions[0].confidence is None


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("no", "'probe_logprobs' must be a list with one entry per branch, got a string"),
        ([[-1.0, -1.0, -1.0]], "one entry per branch, got a list of 1"),
        ([[-1.0], None, []], "branch 0: probe_logprobs must list one value per probe (3)"),
        ([[-1.0, "x", 0], None, []], "probe_logprobs[1] must be a number or null, got a string"),
        ([[-1.0, True, 0], None, []], "probe_logprobs[1] must be a number or null"),
        ([[-1.0, 0.5, 0], None, []], "a log-probability (a finite number <= 0), got 0.5"),
    ],
)
def test_malformed_logprobs_are_clean_errors(value: Any, message: str) -> None:
    doc = copy.deepcopy(DOC)
    doc[0]["probe_logprobs"] = value
    with pytest.raises(DataFormatError) as info:
        parse_replay(doc, source="bad.json")
    assert message in str(info.value)
    assert "question 0" in str(info.value)


def test_nan_in_a_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "M" / "b.json"
    path.parent.mkdir()
    text = json.dumps(DOC).replace("-0.5", "NaN")
    path.write_text(text)
    with pytest.raises(DataFormatError, match="finite number"):
        load_replay(path)


def test_public_files_have_no_confidences(shared_replay_dir: Path) -> None:
    replay = load_replay(shared_replay_dir / "Qwen3-4B" / "aime24.json")
    assert not replay.has_confidence


def test_synthetic_confidences_are_seeded_and_change_nothing_else() -> None:
    plain = synthesize_questions(questions=4, branches=16, seed=5)
    with_conf = synthesize_questions(questions=4, branches=16, seed=5, confidence=True)
    again = synthesize_questions(questions=4, branches=16, seed=5, confidence=True)
    other = synthesize_questions(questions=4, branches=16, seed=6, confidence=True)
    assert with_conf == again
    assert with_conf != other
    stripped = [{k: v for k, v in item.items() if k != "probe_logprobs"} for item in with_conf]
    assert stripped == plain  # the same answers, lengths and probes
    for item in with_conf:
        logprobs = item["probe_logprobs"]
        assert [len(row) for row in logprobs] == [len(b[0]) for b in item["each_branch"]]
        assert all(v <= 0 for row in logprobs for v in row)
    replay = parse_replay(with_conf, source="s")
    assert replay.has_confidence


def test_synthetic_confidence_tells_settled_probes_from_wandering_ones() -> None:
    # the model: probes showing the branch's final answer are more confident on average
    doc = synthesize_questions(questions=20, branches=32, seed=1, confidence=True)
    settled, other = [], []
    for item in doc:
        for (probes, _, final), logprobs in zip(item["each_branch"], item["probe_logprobs"]):
            for answer, lp in zip(probes, logprobs):
                (settled if answer == final else other).append(math.exp(lp))
    assert np.mean(settled) > np.mean(other) + 0.2


def test_data_synth_writes_confidences_only_when_asked(tmp_path: Path) -> None:
    plain = write_synthetic_store(tmp_path / "a", questions=2, branches=4, seed=0)
    conf = write_synthetic_store(tmp_path / "b", questions=2, branches=4, seed=0, confidence=True)
    assert not any("probe_logprobs" in p.read_text() for p in plain)
    assert all(load_replay(p).has_confidence for p in conf)


def test_the_cli_writes_and_describes_confidences(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from autotts.cli.main import main

    args = ["data", "synth", "--out", str(tmp_path / "s"), "--questions", "2", "--branches", "4"]
    assert main([*args, "--confidence"]) == 0
    path = tmp_path / "s" / "Synth-Small" / "aime24.json"
    assert load_replay(path).has_confidence
    capsys.readouterr()
    assert main(["data", "info", str(path)]) == 0
    assert "probe confidence   on 100.00 % of probes, mean 0." in capsys.readouterr().out
    assert main([*args, "--out", str(tmp_path / "p")]) == 0
    capsys.readouterr()
    assert main(["data", "info", str(tmp_path / "p" / "Synth-Small" / "aime24.json")]) == 0
    assert "probe confidence" not in capsys.readouterr().out
