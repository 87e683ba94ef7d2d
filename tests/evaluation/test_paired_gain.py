"""The one held-out gain (autotts.evaluation.paired_gain): its two intervals are the
shared bootstrap's, drawn jointly by question set and file by file, and its record
gives back the JSON it was read from."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from autotts.data.refs import DataRef
from autotts.data.synthetic import write_synthetic_store
from autotts.evaluation.paired import paired_bootstrap, question_diffs
from autotts.evaluation.paired_gain import (
    JOINT,
    PER_FILE,
    PairedGain,
    paired_gain,
    question_set,
)
from autotts.evaluation.runner import EpisodeTable


def _table(correct: np.ndarray) -> EpisodeTable:
    cost = np.full(correct.shape, 1000.0)
    return EpisodeTable(correct=correct.astype(bool), cost=cost, sequential_cost=cost)


def _files() -> tuple[list[EpisodeTable], list[EpisodeTable]]:
    """Four files (two models × two benchmarks); a question hard for one model is hard
    for the other, as on the real files."""
    rng = np.random.default_rng(5)
    hard = {b: rng.random(30) for b in ("aime25", "hmmt25")}
    a, b = [], []
    for skill in (0.2, 0.5):
        for bench in ("aime25", "hmmt25"):
            p = np.clip(hard[bench] + skill - 0.3, 0.0, 1.0)
            a.append(_table(rng.random((8, 30)) < np.clip(p + 0.05, 0.0, 1.0)))
            b.append(_table(rng.random((8, 30)) < p))
    return a, b


GROUPS = ["aime25", "hmmt25", "aime25", "hmmt25"]


def test_the_gain_draws_questions_jointly_and_keeps_the_per_file_interval() -> None:
    a, b = _files()
    gain = paired_gain(a, b, GROUPS)
    diffs = question_diffs(a, b)
    joint = paired_bootstrap(diffs, groups=GROUPS, draws=10_000, seed=0)
    apart = paired_bootstrap(diffs, draws=10_000, seed=0)
    assert gain == PairedGain(
        joint.gain, (joint.low, joint.high), joint.p_not_positive, (apart.low, apart.high)
    )
    assert gain.resampling == JOINT and gain.ci95_per_file is not None
    # correlated files: drawing each question for every model at once is wider
    assert gain.ci95[1] - gain.ci95[0] > gain.ci95_per_file[1] - gain.ci95_per_file[0]


def test_without_groups_the_interval_is_the_per_file_one_alone() -> None:
    a, b = _files()
    alone = paired_gain(a, b, None)
    assert alone.ci95_per_file is None and alone.resampling == PER_FILE
    assert alone.ci95 == paired_gain(a, b, GROUPS).ci95_per_file
    assert set(alone.to_dict()) == {"gain", "ci95", "p_not_positive"}


@pytest.mark.parametrize(
    "record",
    [
        {"gain": 1.5, "ci95": [0.25, 2.75], "p_not_positive": 0.01},
        {"gain": 1.5, "ci95": [0.25, 2.75], "p_not_positive": 0.01, "ci95_per_file": [0.5, 2.5]},
        {"gain": -0.5, "ci95": [-1.0, 0.0]},  # a transfer cell: no share of draws
    ],
)
def test_the_record_gives_back_its_json(record: dict[str, object]) -> None:
    assert PairedGain.from_dict(record).to_dict() == record


def test_files_pair_by_the_questions_they_hold_not_by_their_benchmark_name(
    tmp_path: Path,
) -> None:
    """Two models' files of one benchmark share their draws only when they hold the same
    questions: a copy of a file under another model's name does; the synthetic store's
    other model, whose questions of the same benchmark name are other texts, does not
    (pairing it by position would pair unrelated questions)."""
    store = tmp_path / "store"
    write_synthetic_store(store, questions=6, branches=8)
    (store / "Copy").mkdir()
    shutil.copy(store / "Synth-Small" / "aime25.json", store / "Copy" / "aime25.json")
    small, copy, large = (
        DataRef(str(store), m, "aime25") for m in ("Synth-Small", "Copy", "Synth-Large")
    )
    assert question_set(small) == question_set(copy)
    assert question_set(small) != question_set(large)
    assert question_set(small).startswith("aime25:")


def test_files_of_one_benchmark_name_with_other_question_counts_are_drawn_apart(
    tmp_path: Path,
) -> None:
    """A store collected with a question limit for one model: its two files of one
    benchmark hold 6 and 4 questions, so they are two question sets and the gain is
    drawn (grouping them by the benchmark's name could not pair them at all)."""
    write_synthetic_store(tmp_path / "full", questions=6, branches=8)
    write_synthetic_store(tmp_path / "short", questions=4, branches=8)
    refs = [
        DataRef(str(tmp_path / "full"), "Synth-Small", "aime25"),
        DataRef(str(tmp_path / "short"), "Synth-Small", "aime25"),
    ]
    sets = [question_set(ref) for ref in refs]
    assert sets[0] != sets[1]
    rng = np.random.default_rng(0)
    a = [_table(rng.random((5, n)) < 0.6) for n in (6, 4)]
    b = [_table(rng.random((5, n)) < 0.4) for n in (6, 4)]
    with pytest.raises(ValueError, match="differ in questions"):
        paired_gain(a, b, ["aime25", "aime25"])
    gain = paired_gain(a, b, sets)
    assert gain.ci95 == gain.ci95_per_file
