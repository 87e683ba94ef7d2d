"""The run directory: atomic rounds, recovery after a crash at any point, torn index lines."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from autotts.discovery.records import RoundEntry
from autotts.discovery.rundir import RunDir
from autotts.errors import UsageError


def _round(run: RunDir, number: int, *, commit: bool = True) -> Path:
    with run.new_round(number) as tmp:
        (tmp / "candidate.py").write_text(f"# round {number}\n")
        if commit:
            return run.commit(
                number, tmp, RoundEntry.from_dict({"round": number, "name": f"r{number}"})
            )
        return tmp


def test_rounds_are_renamed_into_place_and_indexed(tmp_path: Path) -> None:
    run = RunDir(tmp_path / "run")
    run.create({"mode": "test"})
    for n in range(3):
        _round(run, n)
    assert [e.round for e in run.index()] == [0, 1, 2]
    assert sorted(p.name for p in run.rounds_dir.iterdir()) == ["0000", "0001", "0002"]
    assert run.next_round() == 3
    assert json.loads((run.round_dir(1) / "round.json").read_text())["name"] == "r1"


def test_an_abandoned_round_leaves_nothing(tmp_path: Path) -> None:
    run = RunDir(tmp_path / "run")
    run.create({})
    with pytest.raises(KeyboardInterrupt), run.new_round(0) as tmp:
        (tmp / "candidate.py").write_text("x")
        raise KeyboardInterrupt
    assert list(run.rounds_dir.iterdir()) == []
    assert run.index() == []


def test_recover_discards_temporary_folders_and_indexes_renamed_ones(tmp_path: Path) -> None:
    run = RunDir(tmp_path / "run")
    run.create({})
    _round(run, 0)
    # A crash after the rename, before the index append: the folder is complete.
    with run.new_round(1) as tmp:
        (tmp / "round.json").write_text(json.dumps({"round": 1, "name": "r1"}))
        tmp.rename(run.round_dir(1))
    # A crash in the middle of round 2: only a temporary folder.
    (run.rounds_dir / ".tmp-0002").mkdir()
    (run.rounds_dir / ".tmp-0002" / "candidate.py").write_text("half")
    assert run.recover() == [2]
    assert [e.round for e in run.index()] == [0, 1]
    assert not (run.rounds_dir / ".tmp-0002").exists()
    assert run.recover() == []  # idempotent: nothing counted twice
    assert [e.round for e in run.index()] == [0, 1]


def test_a_torn_index_line_is_ignored_and_the_next_append_starts_a_new_line(
    tmp_path: Path,
) -> None:
    run = RunDir(tmp_path / "run")
    run.create({})
    _round(run, 0)
    with run.index_path.open("a") as handle:
        handle.write('{"round": 1, "na')  # killed mid-write
    assert [e.round for e in run.index()] == [0]
    _round(run, 1)
    assert [e.round for e in run.index()] == [0, 1]


def test_create_refuses_an_existing_run(tmp_path: Path) -> None:
    run = RunDir(tmp_path / "run")
    run.create({})
    with pytest.raises(UsageError, match="--resume"):
        RunDir(tmp_path / "run").create({})
    with pytest.raises(UsageError, match="no discovery run"):
        RunDir(tmp_path / "elsewhere").settings()


def test_rounds_count_from_one_and_sealed_files_name_the_final_folder(tmp_path: Path) -> None:
    run = RunDir(tmp_path / "run")
    run.create({})
    assert run.next_round() == 1
    with run.new_round(1) as tmp:
        # A sandbox error written while the round was built names the temporary folder.
        (tmp / "check.json").write_text(json.dumps({"detail": f"crashed at {tmp}/candidate.py:3"}))
        (tmp / "traces.md").write_text(f"Tracing failed: {tmp}/candidate.py\n")
        final = run.commit(1, tmp, RoundEntry.from_dict({"round": 1, "name": "r1"}))
    assert final.name == "0001" and run.next_round() == 2
    for name in ("check.json", "traces.md"):
        text = (final / name).read_text()
        assert ".tmp-" not in text and f"{final}/candidate.py" in text
