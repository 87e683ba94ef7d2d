"""The typed held-out records read back exactly the JSON that earlier code wrote, and what
both held-out comparisons share (the refusal before a selection, the progress count).

``records/discover_heldout_per_file.json`` is the ``heldout.json`` that ``autotts
discover`` wrote before its gain drew questions jointly across models (the code of
2026-12-07, on the synthetic store: ``--search-models Synth-Small --heldout-models
Synth-Small,Synth-Large --rounds 1 --betas 0,0.5,1 --seeds 2 --heldout-seeds 3`` with
``examples/candidates/01_first_votes.py``); the optimiser's records are the runs kept
under ``docs/optimizer/``, from before and after its own change.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from autotts.discovery.heldout_common import Progress, read_selection
from autotts.discovery.heldout_records import (
    BaselineGain,
    BudgetGains,
    DiscoverHeldout,
    OptimizerHeldout,
    read_heldout,
)
from autotts.discovery.records import Selection
from autotts.discovery.rundir import RunDir
from autotts.discovery.verdict import verdict
from autotts.errors import UsageError
from tests.conftest import ROOT

RECORDS = Path(__file__).parent / "records"
SELECTED = Selection(round=1, beta=1.0, rule="accuracy", name="01_first_votes")
OPTIMIZER_RUNS = sorted((ROOT / "docs" / "optimizer").glob("*/heldout*.json"))


def _json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def _budgets(path: Path) -> list[dict[str, Any]]:
    record = _json(path)
    if "picks" in record:  # heldout_picks.json: every pick's gains
        return [g for pick in record["picks"] for g in pick["gains"]]
    return list(record["gains"])


def test_the_optimiser_s_kept_records_are_there() -> None:
    names = {p.name for p in OPTIMIZER_RUNS}
    assert names == {"heldout.json", "heldout_picks.json"} and len(OPTIMIZER_RUNS) >= 4


@pytest.mark.parametrize("path", OPTIMIZER_RUNS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_the_optimiser_s_gains_read_back_as_written(path: Path) -> None:
    budgets = _budgets(path)
    assert budgets
    for budget in budgets:
        assert BudgetGains.from_dict(budget).to_dict() == budget


@pytest.mark.parametrize(
    "path",
    [p for p in OPTIMIZER_RUNS if p.name == "heldout.json"],
    ids=lambda p: p.parent.name,
)
def test_the_optimiser_s_heldout_json_is_told_apart_and_reads_back(path: Path) -> None:
    data = _json(path)
    record = read_heldout(data)
    assert isinstance(record, OptimizerHeldout)
    assert json.dumps(record.to_dict()) == json.dumps(data)  # keys and their order too
    assert record.paired is None and record.selected == data["points"][0]["method"]
    assert len(record.gains) == len(data["gains"])
    with pytest.raises(UsageError, match="written by 'autotts optimize'"):
        DiscoverHeldout.from_dict(data)
    # the report's verdict reads it by its own gains: at each CMC budget, the winner at the
    # β the search chose, with that row's numbers and interval (never a mean over curves)
    selection = Selection.from_dict(_json(path.parent / "selection.json"))
    said = verdict(record, selection)
    assert said["kind"] in {"better", "worse", "unclear"}
    text = " ".join(said["lines"])
    for budget in record.gains:
        for row in budget.search_choices():
            assert f"Within CMC β={budget.cmc_beta:.1f}'s tokens" in text
            assert f"{row.accuracy:.2f} % at" in text and f"[{row.gain.ci95[0]:+.2f}," in text
    assert "matched tokens" not in text


def test_discover_s_oldest_heldout_json_reads_back() -> None:
    """Before the paired interval (2026-11-29) heldout.json had no ``paired``."""
    held = _json(RECORDS / "discover_heldout_per_file.json")
    old = {k: v for k, v in held.items() if k != "paired"}
    record = read_heldout(old)
    assert isinstance(record, DiscoverHeldout) and record.paired is None
    assert json.dumps(record.to_dict()) == json.dumps(old)
    no_label = {k: v for k, v in old.items() if k != "candidate"}
    record = DiscoverHeldout.from_dict(no_label)
    assert record.candidate is None and record.selected == held["points"][0]["method"]
    assert json.dumps(record.to_dict()) == json.dumps(no_label)


def test_both_kinds_of_optimiser_record_are_read() -> None:
    """Records from before the joint interval (ci95 file by file, nothing beside it) and
    after (ci95 joint, ci95_per_file beside it) both load; the words can tell them apart."""
    kinds = {
        BudgetGains.from_dict(b).candidates[0].gain.resampling
        for path in OPTIMIZER_RUNS
        for b in _budgets(path)
    }
    assert kinds == {"questions drawn file by file", "questions drawn jointly across models"}


def test_discover_s_record_from_before_the_joint_interval_reads_back() -> None:
    held = _json(RECORDS / "discover_heldout_per_file.json")
    paired = BaselineGain.from_dict(held["paired"])
    assert paired.to_dict() == held["paired"]
    assert paired.baseline == "CMC β=0.5" and paired.gain.ci95_per_file is None
    record = DiscoverHeldout.from_dict(held)
    assert record.to_dict() == held and json.dumps(record.to_dict()) == json.dumps(held)
    assert record.paired == paired and "ci95_per_file" not in json.dumps(held)
    # and the verdict says which interval it quotes: this record's drew file by file
    words = " ".join(verdict(record, SELECTED)["lines"])
    assert "[-2.67, +1.33] over questions drawn file by file." in words


def test_a_new_record_says_its_interval_is_joint() -> None:
    held = _json(RECORDS / "discover_heldout_per_file.json")
    held["paired"] = {**held["paired"], "ci95": [-2.9, 1.3], "ci95_per_file": [-2.7, 1.3]}
    assert BaselineGain.from_dict(held["paired"]).to_dict() == held["paired"]
    words = " ".join(verdict(DiscoverHeldout.from_dict(held), SELECTED)["lines"])
    assert (
        "95 % bootstrap interval [-2.90, +1.30] over questions drawn jointly across models "
        "(file by file: [-2.70, +1.30])" in words
    )


def test_held_out_files_wait_for_a_selection(tmp_path: Path) -> None:
    run = RunDir(tmp_path)
    with pytest.raises(UsageError, match=r"only after selection\.json exists"):
        read_selection(run)
    (tmp_path / "selection.json").write_text(json.dumps({"round": None}))
    with pytest.raises(UsageError, match="selected no controller"):
        read_selection(run)
    (tmp_path / "selection.json").write_text(json.dumps({"round": 3, "beta": 0.5}))
    assert read_selection(run) == {"round": 3, "beta": 0.5}


def test_progress_reports_each_unit() -> None:
    seen: list[tuple[int, int]] = []
    progress = Progress(3, lambda done, total: seen.append((done, total)))
    for _ in range(3):
        progress.tick()
    assert seen == [(1, 3), (2, 3), (3, 3)]
    Progress(2).tick()  # nobody listening: nothing to report to
