"""``baselines.json`` and ``transfer.json`` in the shapes older runs wrote read back as
written (records read from real runs are in test_records.py and
test_transfer_and_ablations.py); records built in code write the writers' key order."""

from __future__ import annotations

import json
from typing import Any

from autotts.discovery.baseline_records import BaselineMethod, BaselinesFile
from autotts.discovery.records import AggregatePoint
from autotts.discovery.transfer_records import TransferCell, TransferFile, TransferGroup
from autotts.evaluation.paired_gain import PairedGain

AGG = {"beta": 0.5, "accuracy": 50.0, "tokens": 10.0, "seq_tokens": 9.0, "files": 1}
POINT = {"model": "m", "benchmark": "b", "beta": 0.5, "accuracy": 50.0,
         "accuracy_ci95": [40.0, 60.0], "tokens": 10.0, "seq_tokens": 9.0}  # fmt: skip


def _same(record: Any, data: dict[str, Any]) -> None:
    assert json.dumps(type(record).from_dict(data).to_dict()) == json.dumps(data)


def test_baselines_from_before_digests_read_back() -> None:
    old = {"methods": {"sc": {"points": [POINT], "aggregate": [AGG]}}, "betas": [0, 0.5]}
    record = BaselinesFile.from_dict(old)
    assert record.methods["sc"].digest is None and record.betas == (0, 0.5)
    _same(record, old)


def test_baselines_built_in_code_write_the_loop_s_order() -> None:
    method = BaselineMethod((), (AggregatePoint.from_dict(AGG),), digest="")
    record = BaselinesFile({"sc": method}, (0.5,))
    assert json.dumps(record.to_dict()) == json.dumps(
        {"methods": {"sc": {"points": [], "aggregate": [AGG], "digest": ""}}, "betas": [0.5]}
    )


OLD_TRANSFER: dict[str, Any] = {  # before the joint interval: groups had gain and ci95 only
    "candidate": "round 1: x", "beta": 1.0, "baseline": "CMC β=0.5",
    "search_models": ["A"], "heldout_models": ["A", "B"], "models": ["A", "B"],
    "benchmarks": ["aime24", "aime25"],
    "interval": "paired bootstrap 95 % over questions (10,000 draws, seed 0)",
    "cells": [
        {"model": "A", "benchmark": "aime25", "role": "heldout", "model_searched": True,
         "accuracy": 50.0, "tokens": 10.0, "baseline_accuracy": 48.0, "baseline_tokens": 9.0,
         "gain": 2.0, "ci95": [-1.0, 5.0]},
        {"model": "A", "benchmark": "aime24", "accuracy": 40.0, "tokens": 8.0,
         "role": "search", "model_searched": True},
    ],
    "groups": [{"name": "all held-out files", "files": 1, "gain": 2.0, "ci95": [-1.0, 5.0]}],
}  # fmt: skip


def test_an_old_transfer_json_reads_back() -> None:
    _same(TransferFile.from_dict(OLD_TRANSFER), OLD_TRANSFER)
    record = TransferFile.from_dict(OLD_TRANSFER)
    assert record.groups[0].gain.ci95_per_file is None
    assert record.cells[1].gain is None and record.cells[0].ci95 == (-1.0, 5.0)


def test_transfer_records_built_in_code_write_the_writer_s_order() -> None:
    held, search = OLD_TRANSFER["cells"]
    built = TransferCell("A", "aime25", "heldout", True, 50.0, 10.0, 48.0, 9.0, 2.0, (-1.0, 5.0))
    assert json.dumps(built.to_dict()) == json.dumps(held)
    assert json.dumps(TransferCell("A", "aime24", "search", True, 40.0, 8.0).to_dict()) == (
        json.dumps(search)
    )
    no_base = TransferCell("B", "aime25", "heldout", False, 50.0, 10.0)
    assert list(no_base.to_dict()) == [
        "model", "benchmark", "role", "model_searched", "accuracy", "tokens",
    ]  # fmt: skip
    group = TransferGroup("g", 2, PairedGain(1.0, (0.0, 2.0), ci95_per_file=(0.5, 1.5)))
    assert list(group.to_dict()) == ["name", "files", "gain", "ci95", "ci95_per_file"]
