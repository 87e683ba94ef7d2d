"""The run directory's typed records (autotts.discovery.records).

``to_dict(from_dict(x))`` gives ``x`` back, keys and their order included, on every
record of a real run, on shapes older runs wrote and on the optimiser's shapes; and a
scripted discovery writes today the bytes it wrote before the records were typed.

``reference_run/`` holds the record files of the run made by the code before the
records were typed (commit 370239b) with::

    autotts discover --out run --data synthetic --candidates examples/candidates \\
        --models Synth-Small --betas 0,0.5,1 --seeds 2 --heldout-seeds 2

(``run.json`` and the files with absolute paths or freshly drawn audit seeds are left
out: they differ from run to run anyway.)
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from autotts.discovery.baseline_records import BaselineMethod, BaselinesFile
from autotts.discovery.curves import aggregate, best_point
from autotts.discovery.heldout_records import DiscoverHeldout, HeldoutPoint
from autotts.discovery.records import (
    AggregatePoint,
    CurvePoint,
    CurvesFile,
    DataRead,
    RoundEntry,
    Selection,
)
from autotts.discovery.rundir import RunDir
from autotts.discovery.selection import select
from autotts.discovery.transfer_records import TransferFile
from tests.conftest import ROOT

REFERENCE = Path(__file__).parent / "reference_run"
CANDIDATES = ROOT / "examples" / "candidates"
ARGS = [
    "--data", "synthetic", "--candidates", str(CANDIDATES), "--models", "Synth-Small",
    "--betas", "0,0.5,1", "--seeds", "2", "--heldout-seeds", "2", "--quiet",
]  # fmt: skip
#: Wall-clock timings, the one thing of these files that differs from run to run.
TIMINGS = re.compile(r'("seconds(?:_total)?": ?)[0-9.eE+-]+')


@pytest.fixture(scope="module")
def run_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("records") / "run"
    command = [sys.executable, "-m", "autotts.cli.main", "discover", "--out", str(out), *ARGS]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    return out


def _untimed(text: str) -> str:
    return TIMINGS.sub(r"\g<1>0", text)


def _reference_files() -> list[str]:
    return sorted(p.relative_to(REFERENCE).as_posix() for p in REFERENCE.rglob("*") if p.is_file())


def test_a_discovery_writes_the_bytes_it_wrote_before_the_records_were_typed(
    run_path: Path,
) -> None:
    names = _reference_files()
    assert "index.jsonl" in names and "selection.json" in names
    assert "rounds/0005/round.json" in names and "rounds/0001/curves.json" in names
    for name in names:
        ours = _untimed((run_path / name).read_text(encoding="utf-8"))
        assert ours == _untimed((REFERENCE / name).read_text(encoding="utf-8")), name


def _round_trips(cls: Any, data: dict[str, Any]) -> None:
    record = cls.from_dict(data)
    again = record.to_dict()
    assert again == data
    assert json.dumps(again) == json.dumps(data)  # the same keys in the same order


def test_every_record_of_a_real_run_round_trips(run_path: Path) -> None:
    run = RunDir(run_path)
    lines = (run_path / "index.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(lines) == 5
    for line in lines:
        data = json.loads(line)
        _round_trips(RoundEntry, data)
        entry = RoundEntry.from_dict(data)
        # the index line, byte for byte, as RunDir writes it
        text = json.dumps(entry.to_dict(), ensure_ascii=False, separators=(",", ":"))
        assert text == line
        folder = run.round_dir(entry.round)
        _round_trips(RoundEntry, json.loads((folder / "round.json").read_text(encoding="utf-8")))
        curves = json.loads((folder / "curves.json").read_text(encoding="utf-8"))
        _round_trips(CurvesFile, curves)
        for point in curves["points"]:
            _round_trips(CurvePoint, point)
        for agg in curves["aggregate"]:
            _round_trips(AggregatePoint, agg)
    selection = json.loads((run_path / "selection.json").read_text(encoding="utf-8"))
    _round_trips(Selection, selection)
    typed = run.selection()
    assert typed is not None and typed.round == 4 and typed.class_name == "ConfidenceMomentumPort"
    assert typed.read is not None and typed.read[0].model == "Synth-Small"
    heldout = json.loads((run_path / "heldout.json").read_text(encoding="utf-8"))
    _round_trips(DiscoverHeldout, heldout)
    for point in heldout["points"]:  # a held-out point: a curve point plus its method
        _round_trips(HeldoutPoint, point)
    baselines = json.loads((run_path / "baselines.json").read_text(encoding="utf-8"))
    _round_trips(BaselinesFile, baselines)
    for method in baselines["methods"].values():
        _round_trips(BaselineMethod, method)
        for agg in method["aggregate"]:
            _round_trips(AggregatePoint, agg)
    _round_trips(TransferFile, json.loads((run_path / "transfer.json").read_text("utf-8")))


def test_the_run_s_other_files_read_typed(run_path: Path) -> None:
    run = RunDir(run_path)
    baselines = run.baselines()
    assert baselines is not None and baselines.betas == (0.0, 0.5, 1.0)
    assert "sc" in baselines.methods and baselines.methods["sc"].digest
    assert [a.beta for a in baselines.methods["cmc"].aggregate] == [0.0, 0.5, 1.0]
    held = run.heldout()
    assert isinstance(held, DiscoverHeldout) and held.candidate == "round 4: 04_confidence_momentum"
    assert held.selection == {"round": 4, "beta": 1.0, "rule": "accuracy"}
    assert held.paired is not None and held.paired.baseline in {p.method for p in held.points}
    transfer = run.transfer()
    assert transfer is not None and transfer.candidate == held.candidate
    assert {c.role for c in transfer.cells} == {"heldout", "search"}
    assert transfer.groups[0].name == "all held-out files"
    assert transfer.groups[0].gain.p_not_positive is None  # groups have never carried it


def test_the_typed_index_is_what_the_loop_reads(run_path: Path) -> None:
    index = RunDir(run_path).index()
    assert [e.round for e in index] == [1, 2, 3, 4, 5]
    assert [(e.verdict, e.reason) for e in index[1:3]] == [
        ("rejected", "crash"),
        ("rejected", "peeking"),
    ]
    assert index[0].class_name == "FirstVotes" and index[0].seconds is not None
    assert index[0].best == best_point(index[0].aggregate)
    assert index[1].best is None and index[1].aggregate == ()
    chosen = select(index)
    assert chosen is not None and chosen.round == 4 and chosen.beta == 1.0


# -- shapes older runs (and the optimiser) wrote --------------------------------------

OLD_LINE: dict[str, Any] = {  # rounds counted from 0; no class, seconds or raced_out
    "round": 0,
    "rounds": 3,
    "name": "first",
    "verdict": "accepted",
    "reason": None,
    "best": {"beta": 1, "accuracy": 50.0, "tokens": 1000.0, "seq_tokens": 900.0, "files": 1},
    "aggregate": [{"beta": 1, "accuracy": 50.0, "tokens": 1000.0, "seq_tokens": 900.0, "files": 1}],
    "money": 0.0,
    "money_total": 0.0,
    "proposer_tokens": 0,
    "proposer_tokens_total": 0,
}


def test_an_old_index_line_round_trips_and_reads_with_defaults() -> None:
    _round_trips(RoundEntry, OLD_LINE)
    entry = RoundEntry.from_dict(OLD_LINE)
    assert entry.round == 0 and entry.class_name is None and entry.seconds_total is None
    assert not entry.raced_out and entry.extra == {}
    assert entry.best is not None and entry.best.beta == 1  # an int β stays an int
    assert json.dumps(entry.to_dict()["best"]) == json.dumps(OLD_LINE["best"])


def test_a_minimal_old_line_reads_and_keeps_its_keys() -> None:
    data = {"round": 0, "name": "r0"}  # what early tests and runs appended
    entry = RoundEntry.from_dict(data)
    assert (entry.round, entry.name, entry.aggregate, entry.best) == (0, "r0", (), None)
    assert entry.to_dict() == data  # nothing added to a line that had none of it


def test_unknown_keys_survive_a_read_modify_write() -> None:
    data = {**OLD_LINE, "future": {"a": 1}, "note": "kept"}
    entry = RoundEntry.from_dict(data)
    assert entry.extra == {"future": {"a": 1}, "note": "kept"}
    changed = replace(entry, verdict="rejected", reason="crash").to_dict()
    assert list(changed) == list(data)
    assert changed == {**data, "verdict": "rejected", "reason": "crash"}
    selection = {"round": 0, "beta": 0.5, "rule": "accuracy", "reviewer": "x"}
    assert Selection.from_dict(selection).extra == {"reviewer": "x"}
    _round_trips(Selection, selection)


def test_a_field_set_after_reading_is_written_in_its_place() -> None:
    entry = replace(RoundEntry.from_dict(OLD_LINE), class_name="C", seconds=1.5)
    out = entry.to_dict()
    assert list(out)[: len(OLD_LINE)] == list(OLD_LINE)  # the file's keys first, in order
    assert (out["class"], out["seconds"]) == ("C", 1.5)


def test_a_record_built_in_code_writes_the_loops_key_order() -> None:
    agg = aggregate(
        [
            {"model": "m", "benchmark": "b", "beta": 0.0, "accuracy": 40.0, "tokens": 10.0,
             "seq_tokens": 10.0},
            {"model": "m", "benchmark": "b", "beta": 1.0, "accuracy": 50.0, "tokens": 30.0,
             "seq_tokens": 20.0},
        ]
    )  # fmt: skip
    entry = RoundEntry(
        round=1,
        rounds=5,
        name="x",
        class_name="X",
        verdict="accepted",
        raced_out=True,
        best=best_point(agg),
        aggregate=tuple(agg),
        seconds=1.0,
        seconds_total=2.0,
    )
    assert list(entry.to_dict()) == [
        "round", "rounds", "name", "class", "verdict", "reason", "raced_out", "best",
        "aggregate", "money", "money_total", "proposer_tokens", "proposer_tokens_total",
        "seconds", "seconds_total",
    ]  # fmt: skip
    assert list(replace(entry, raced_out=False, class_name=None).to_dict())[3:5] == [
        "verdict",
        "reason",
    ]
    assert entry.best is not None and entry.best.to_dict() == {
        "beta": 1.0, "accuracy": 50.0, "tokens": 30.0, "seq_tokens": 20.0, "files": 1,
    }  # fmt: skip
    _round_trips(RoundEntry, entry.to_dict())
    empty = Selection(round=None, beta=None, rule="auc", read=(DataRead("m", "b", "0" * 64),))
    assert list(empty.to_dict()) == ["round", "beta", "rule", "read"]


def test_a_raced_out_round_is_never_selected() -> None:
    raced = RoundEntry.from_dict({**OLD_LINE, "round": 1, "raced_out": True})
    _round_trips(RoundEntry, {**OLD_LINE, "raced_out": True})
    assert select([raced]) is None
    assert select([replace(raced, raced_out=False)]) is not None


AGG = [{"beta": 0.5, "accuracy": 50.0, "tokens": 10.0, "seq_tokens": 9.0, "files": 1}]
OPTIMIZER_LINES: list[dict[str, Any]] = [
    {  # a batch in which no trial finished: "aggregate" before "best", as always written
        "round": 1, "rounds": None, "name": "opt-r1", "trials": [0, 1],
        "study": "autotts-optimizer", "verdict": "failed", "reason": "no-code",
        "aggregate": [], "best": None, "money": 0.0, "money_total": 0.0,
        "proposer_tokens": 0, "proposer_tokens_total": 0,
    },
    {  # a batch's best trial (validation may be null)
        "round": 2, "rounds": None, "name": "opt-r2", "trials": [2, 3],
        "study": "search-0-structure", "trial": 3, "fit_objective": 1.5, "validation": None,
        "class": "OptR2", "verdict": "accepted", "reason": None, "best": AGG[0],
        "aggregate": AGG, "money": 0.0, "money_total": 0.0, "proposer_tokens": 0,
        "proposer_tokens_total": 0,
    },
    {  # the winner's round
        "round": 3, "rounds": None, "name": "opt-winner", "trial": 3, "fit_objective": 1.5,
        "validation": 1.2, "class": "OptWinner", "verdict": "accepted", "reason": None,
        "best": AGG[0], "aggregate": AGG, "money": 0.0, "money_total": 0.0,
        "proposer_tokens": 0, "proposer_tokens_total": 0,
    },
]  # fmt: skip


@pytest.mark.parametrize("line", OPTIMIZER_LINES, ids=lambda line: str(line["name"]))
def test_the_optimizers_index_lines_round_trip(line: dict[str, Any]) -> None:
    _round_trips(RoundEntry, line)
    entry = RoundEntry.from_dict(line)
    assert entry.trial == line.get("trial") and entry.study == line.get("study")
    # built in code, its known keys come in the order the optimiser writes them
    rebuilt = replace(entry, key_order=()).to_dict()
    if line["name"] != "opt-r1":
        assert json.dumps(rebuilt) == json.dumps(line)


def test_the_optimizers_selection_round_trips() -> None:
    data = {
        "round": 3, "name": "opt-winner", "class": "OptWinner", "beta": 0.62,
        "betas_at_cmc_budgets": {"0.5": 0.4, "1.0": 0.62}, "rule": "optimizer",
        "objective": "...", "preregistered": None, "trial": 3, "search": 0, "searches": [],
        "search_gains_100_seeds": [], "schedule": {"parts": {}},
        "read": [{"model": "m", "benchmark": "b", "sha256": "0" * 64}],
    }  # fmt: skip
    _round_trips(Selection, data)
    selection = Selection.from_dict(data)
    assert (selection.trial, selection.class_name, selection.round) == (3, "OptWinner", 3)
    assert selection.extra["schedule"] == {"parts": {}}


def test_an_optimizer_curve_point_has_no_interval() -> None:
    point = {"model": "m", "benchmark": "b", "beta": 0.5, "accuracy": 50.0, "tokens": 10.0,
             "seq_tokens": 9.0}  # fmt: skip
    _round_trips(CurvePoint, point)
    assert CurvePoint.from_dict(point).accuracy_ci95 is None
    _round_trips(CurvesFile, {"points": [point], "aggregate": AGG, "best": AGG[0]})


# -- the run directory's accessors ---------------------------------------------------


def test_recover_appends_round_json_byte_for_byte(tmp_path: Path) -> None:
    run = RunDir(tmp_path / "run")
    run.create({"search": []})
    data = {**OLD_LINE, "round": 1, "future": [1, 2]}
    folder = run.round_dir(1)
    folder.mkdir(parents=True)
    (folder / "round.json").write_text(json.dumps(data), encoding="utf-8")
    run.recover()
    line = run.index_path.read_text(encoding="utf-8")
    assert line == json.dumps(data, separators=(",", ":")) + "\n"
    assert run.index()[0].extra == {"future": [1, 2]}


def test_the_index_skips_a_torn_line_and_selection_is_none_before_it_exists(
    tmp_path: Path,
) -> None:
    run = RunDir(tmp_path / "run")
    run.create({"search": []})
    assert run.selection() is None
    run.index_path.write_text(json.dumps({**OLD_LINE, "round": 1}) + '\n{"round": 2, "na')
    assert [e.round for e in run.index()] == [1]
    assert run.next_round() == 2
