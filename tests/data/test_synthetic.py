"""The synthetic generative model and store."""

from __future__ import annotations

import hashlib
import json
import math
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from autotts.cli.main import main
from autotts.data import synthetic
from autotts.data.loading import load_replay, parse_replay
from autotts.data.summary import summarize
from autotts.data.synthetic import (
    DEFAULT_BRANCHES,
    DEFAULT_QUESTIONS,
    MAX_TOKENS,
    MIN_TOKENS,
    SYNTHETIC_BENCHMARKS,
    SYNTHETIC_MODELS,
    synthesize_questions,
    synthetic_replay_sets,
    write_synthetic_store,
)
from autotts.errors import UnknownName, UsageError

LAYOUT = [
    f"{m}/{b}.json" for m in ("Synth-Small", "Synth-Large") for b in ("aime24", "aime25", "hmmt25")
]


def _branches(document: list[dict[str, Any]]) -> list[tuple[list[str], int, str]]:
    return [(p, t, f) for q in document for p, t, f in q["each_branch"]]


@pytest.fixture(scope="module")
def documents() -> dict[str, list[dict[str, Any]]]:
    return {
        name: synthesize_questions(questions=20, branches=64, seed=3, profile=name)
        for name in SYNTHETIC_MODELS
    }


def test_store_layout_and_names(tmp_path: Path) -> None:
    paths = write_synthetic_store(tmp_path, questions=2, branches=4, seed=0)
    assert [str(p.relative_to(tmp_path)) for p in paths] == LAYOUT
    assert sorted(
        str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file()
    ) == sorted(LAYOUT)
    assert set(SYNTHETIC_BENCHMARKS) == {"aime24", "aime25", "hmmt25"}


def test_same_seed_gives_byte_identical_files(tmp_path: Path) -> None:
    first = write_synthetic_store(tmp_path / "a", questions=3, branches=8, seed=7)
    second = write_synthetic_store(tmp_path / "b", questions=3, branches=8, seed=7)
    for a, b in zip(first, second, strict=True):
        assert a.read_bytes() == b.read_bytes()
    # Every file has its own derived seed: no two files are alike.
    assert len({p.read_bytes() for p in first}) == len(first)


def test_different_seed_gives_different_files(tmp_path: Path) -> None:
    first = write_synthetic_store(tmp_path / "a", questions=3, branches=8, seed=7)
    other = write_synthetic_store(tmp_path / "b", questions=3, branches=8, seed=8)
    for a, b in zip(first, other, strict=True):
        assert a.read_bytes() != b.read_bytes()


def test_documents_are_deterministic() -> None:
    kwargs: dict[str, Any] = {"questions": 4, "branches": 16, "seed": 11}
    assert synthesize_questions(**kwargs) == synthesize_questions(**kwargs)
    assert synthesize_questions(**kwargs) != synthesize_questions(**{**kwargs, "seed": 12})


def test_written_files_load_and_follow_the_upstream_format(tmp_path: Path) -> None:
    for path in write_synthetic_store(tmp_path, questions=3, branches=8, seed=1):
        raw = path.read_text("utf-8")
        document = json.loads(raw)
        assert raw == json.dumps(document, indent=2)  # formatted like the public files
        replay = load_replay(path)
        assert (replay.model, replay.benchmark) == (path.parent.name, path.stem)
        assert len(replay) == 3
        for item in document:
            assert list(item) == [
                "question",
                "final_answers_trace",
                "each_branch",
                "gold_answer",
                "probe_freq",
            ]
            assert item["probe_freq"] == 500
            assert item["gold_answer"].isdigit() and 0 <= int(item["gold_answer"]) <= 999
            assert item["final_answers_trace"] == [b[2] for b in item["each_branch"]]
            assert len(item["each_branch"]) == 8


def test_probe_counts_and_lengths(documents: dict[str, list[dict[str, Any]]]) -> None:
    deficits: Counter[int] = Counter()
    for document in documents.values():
        for probes, tokens, _ in _branches(document):
            assert MIN_TOKENS <= tokens <= MAX_TOKENS
            deficits[math.ceil(tokens / 500) - len(probes)] += 1
    assert set(deficits) == {0, 1, 2, 3}  # n_probes = ceil(tokens / Δ) minus 0..3
    assert deficits[1] == max(deficits.values())


def test_lengths_are_heterogeneous(documents: dict[str, list[dict[str, Any]]]) -> None:
    tokens = np.array([t for _, t, _ in _branches(documents["Synth-Small"])])
    assert tokens.std() / tokens.mean() > 0.4
    assert np.percentile(tokens, 90) > 2.5 * np.percentile(tokens, 10)


def test_probes_converge_to_the_final_answer(documents: dict[str, list[dict[str, Any]]]) -> None:
    for document in documents.values():
        first, last = [], []
        for probes, _, final in _branches(document):
            quarter = len(probes) // 4
            if quarter:
                first += [p == final for p in probes[:quarter]]
                last += [p == final for p in probes[-quarter:]]
        assert np.mean(last) > 0.85
        assert np.mean(last) > np.mean(first) + 0.5


def test_early_probes_are_mostly_err_or_wrong(documents: dict[str, list[dict[str, Any]]]) -> None:
    early = [
        p == "ERR" or p != final
        for probes, _, final in _branches(documents["Synth-Small"])
        for p in probes[: len(probes) // 4]
    ]
    assert np.mean(early) > 0.8


def test_contains_err_probes_but_not_err_finals(
    documents: dict[str, list[dict[str, Any]]],
) -> None:
    for document in documents.values():
        branches = _branches(document)
        probes = [p for ps, _, _ in branches for p in ps]
        share = probes.count("ERR") / len(probes)
        assert 0.03 < share < 0.4
        assert all(final != "ERR" for _, _, final in branches)


def test_large_is_more_accurate_and_converges_earlier(
    documents: dict[str, list[dict[str, Any]]],
) -> None:
    stats = {}
    for name, document in documents.items():
        replay = parse_replay(document, source=name)
        summary = summarize(replay)
        branches = _branches(document)
        # Relative depth at which a branch's probes settle on its final answer for good.
        settle = []
        for probes, _, final in branches:
            k = len(probes)
            while k > 0 and probes[k - 1] in (final, "ERR"):
                k -= 1
            if probes:
                settle.append(k / len(probes))
        stats[name] = (summary["pass_at_1"], float(np.mean(settle)))
    assert stats["Synth-Large"][0] > stats["Synth-Small"][0] + 0.1
    assert stats["Synth-Large"][1] < stats["Synth-Small"][1] - 0.1


def test_hard_questions_have_gold_in_the_minority_or_absent() -> None:
    hard = parse_replay(synthesize_questions(questions=40, seed=5, difficulty=1.0), source="hard")
    easy = parse_replay(synthesize_questions(questions=40, seed=5, difficulty=0.0), source="easy")
    hard_summary, easy_summary = summarize(hard), summarize(easy)
    assert hard_summary["majority_at_all"] <= 0.05
    assert 0.1 < hard_summary["pass_at_all"] < 0.95  # gold absent on some questions, not all
    assert easy_summary["majority_at_all"] >= 0.85
    assert easy_summary["pass_at_all"] == 1.0
    for q, gold in zip(hard.questions, hard.gold_ids.tolist(), strict=True):
        votes = np.bincount(q.final, minlength=q.n_finals)
        # gold is -1 (never seen), a probe-only answer (id >= n_finals), or outvoted.
        assert gold == -1 or gold >= q.n_finals or votes[gold] < votes.max()


def test_distractors_are_shared_wrong_answers() -> None:
    document = synthesize_questions(questions=10, branches=128, seed=2, difficulty=1.0)
    for item in document:
        wrong = Counter(a for a in item["final_answers_trace"] if a != item["gold_answer"])
        # A hard question's attractor gathers many of its wrong finals.
        assert wrong.most_common(1)[0][1] >= 20


def test_in_memory_store_matches_the_written_one(tmp_path: Path) -> None:
    sets = synthetic_replay_sets(questions=3, branches=8, seed=4)
    paths = write_synthetic_store(tmp_path, questions=3, branches=8, seed=4)
    assert [r.name for r in sets] == [str(p.relative_to(tmp_path))[:-5] for p in paths]
    for replay, path in zip(sets, paths, strict=True):
        assert replay.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
        assert replay.source.startswith(f"synthetic:{replay.name}?")
        loaded = load_replay(path)
        assert replay.gold == loaded.gold
        for a, b in zip(replay.questions, loaded.questions, strict=True):
            assert a.answers == b.answers
            assert np.array_equal(a.steps, b.steps)
            assert np.array_equal(a.tokens, b.tokens)


def test_default_in_memory_store_is_cached() -> None:
    synthetic._cached_sets.cache_clear()
    sets = synthetic_replay_sets()
    assert [r.name for r in sets] == [name[:-5] for name in LAYOUT]
    for replay in sets:
        assert len(replay) == DEFAULT_QUESTIONS
        assert all(q.n_branches == DEFAULT_BRANCHES for q in replay.questions)
    assert synthetic_replay_sets() is not sets  # a fresh list around the cached sets
    assert synthetic_replay_sets()[0] is sets[0]


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"questions": 0}, UsageError, "questions must be a positive integer, got 0"),
        ({"branches": -1}, UsageError, "branches must be a positive integer, got -1"),
        ({"seed": -1}, UsageError, "seed must be a non-negative integer"),
        ({"probe_freq": 0}, UsageError, "probe_freq must be a positive integer"),
        ({"difficulty": 1.5}, UsageError, "difficulty must lie in [0, 1]"),
        ({"profile": "Synth-Medium"}, UnknownName, "unknown synthetic profile 'Synth-Medium'"),
    ],
)
def test_bad_arguments(kwargs: dict[str, Any], error: type[Exception], message: str) -> None:
    with pytest.raises(error) as info:
        synthesize_questions(**kwargs)
    assert message in str(info.value)


def test_cli_synth_writes_the_store(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "store"
    assert (
        main(["data", "synth", "--out", str(out), "-n", "2", "--branches", "4", "--seed", "9"]) == 0
    )
    printed = capsys.readouterr().out
    assert "6 file(s), 2 question(s) x 4 branch(es) each, seed 9" in printed
    expected = write_synthetic_store(tmp_path / "ref", questions=2, branches=4, seed=9)
    for path in expected:
        twin = out / path.relative_to(tmp_path / "ref")
        assert f"wrote {twin}" in printed
        assert twin.read_bytes() == path.read_bytes()


def test_cli_synth_defaults_match_the_library() -> None:
    import typer.main

    from autotts.cli.data_cmd import app

    command = typer.main.get_command(app).commands["synth"]  # type: ignore[attr-defined]
    defaults = {p.name: p.default for p in command.params}
    assert defaults["questions"] == DEFAULT_QUESTIONS
    assert defaults["branches"] == DEFAULT_BRANCHES


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-n", "0"], "--questions must be at least 1, got 0"),
        (["--branches", "0"], "--branches must be at least 1, got 0"),
        (["--seed", "-3"], "--seed must not be negative, got -3"),
    ],
)
def test_cli_synth_rejects_bad_sizes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    assert main(["data", "synth", "--out", str(tmp_path / "s"), *args]) == 2
    err = capsys.readouterr().err
    assert err == f"error: {message}\n"
    assert not (tmp_path / "s").exists()


def test_cli_synth_refuses_a_file_as_out(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "file"
    target.write_text("x")
    assert main(["data", "synth", "--out", str(target)]) == 2
    assert "exists and is not a folder" in capsys.readouterr().err
