"""Protocols fix the episodes; results summarise them exactly as the reference does."""

from __future__ import annotations

import csv
import json
import random
from pathlib import Path

import numpy as np
import pytest

from autotts.cli.main import main
from autotts.controllers.registry import ControllerSpec, build
from autotts.evaluation.protocols import ReferenceProtocol, SubsampleProtocol
from autotts.evaluation.results import summarise
from autotts.evaluation.runner import EpisodeTable, run_episodes
from tests.controllers.random_replay import random_document, random_replay


def test_reference_orders_are_python_shuffles() -> None:
    orders = ReferenceProtocol(seeds=4).orders(10, question=3)
    for seed, order in enumerate(orders):
        items = list(range(10))
        random.Random(seed).shuffle(items)
        assert order.tolist() == items


def test_subsample_orders_are_seeded_distinct_pools() -> None:
    protocol = SubsampleProtocol(draws=5, size=6, seed=11)
    orders = protocol.orders(20, question=2)
    assert orders.shape == (5, 6)
    assert all(len(set(row)) == 6 and max(row) < 20 for row in orders.tolist())
    assert np.array_equal(orders, SubsampleProtocol(draws=5, size=6, seed=11).orders(20, 2))
    assert not np.array_equal(orders, SubsampleProtocol(draws=5, size=6, seed=12).orders(20, 2))
    assert not np.array_equal(orders, protocol.orders(20, question=3))


def test_summary_matches_the_reference_arithmetic() -> None:
    table = EpisodeTable(
        correct=np.array([[True, False, True], [True, True, True]]),
        cost=np.array([[100.0, 200.0, 300.0], [10.0, 20.0, 31.0]]),
        sequential_cost=np.array([[50.0, 60.0, 70.0], [5.0, 6.0, 7.0]]),
    )
    m = summarise(table)
    assert m.accuracy == round(100 * (2 / 3 + 1) / 2, 2) == 83.33
    assert m.tokens == (600 / 3 + 61 / 3) / 2
    assert m.seq_tokens == (180 / 3 + 18 / 3) / 2
    lo, hi = m.accuracy_ci95
    assert lo < m.accuracy < hi
    assert m.replicates == 2 and m.questions == 3


def test_subsample_accuracy_varies_between_pools_and_has_an_interval() -> None:
    replay = random_replay(5, questions=6, branches=30)
    table = run_episodes(
        build(ControllerSpec("sc", params={"n": 3})),
        replay,
        SubsampleProtocol(draws=12, size=5, seed=1),
    )
    m = summarise(table)
    assert table.correct.shape == (12, 6)
    assert m.accuracy_ci95[0] < m.accuracy_ci95[1]
    assert (table.cost > 0).all()


@pytest.fixture()
def store(tmp_path: Path) -> Path:
    path = tmp_path / "store" / "Tiny" / "aime24.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(random_document(4, questions=4, branches=20)))
    return tmp_path / "store"


def test_eval_json_records_how_to_rerun_and_is_byte_identical(store: Path, tmp_path: Path) -> None:
    outs = []
    for i in range(2):
        out = tmp_path / f"r{i}.json"
        args = ["eval", "--data", str(store), "-c", "cmc", "-b", "0.3", "--seeds", "4"]
        assert main([*args, "--json", "--out", str(out)]) == 0
        outs.append(out.read_bytes())
    assert outs[0] == outs[1]
    result = json.loads(outs[0])
    assert result["controller"] == {"name": "cmc", "beta": 0.3}
    assert result["params"]["n_init"] == 4
    assert result["protocol"] == {"name": "reference", "seeds": [0, 1, 2, 3]}
    assert len(result["data"]["sha256"]) == 64
    assert set(result["metrics"]) >= {"accuracy", "accuracy_ci95", "tokens", "seq_tokens"}


@pytest.mark.parametrize("name", ["sc", "asc", "esc", "parallel-probe", "cmc"])
def test_traces_have_the_schema_and_one_finish_per_episode(
    name: str, store: Path, tmp_path: Path
) -> None:
    traces = tmp_path / "t.jsonl"
    args = ["eval", "--data", str(store), "-c", name, "-b", "0.5", "--seeds", "2"]
    assert main([*args, "--traces", str(traces), "--json", "--out", str(tmp_path / "r.json")]) == 0
    lines = [json.loads(line) for line in traces.read_text().splitlines()]
    assert len(lines) == 2 * 4
    for episode in lines:
        steps = episode["trace"]
        assert [s["event"] for s in steps].count("finish") == 1
        assert steps[-1]["event"] == "finish"
        assert steps[-1]["output"]["answer"] == episode["answer"]
        assert steps[-1]["output"]["tokens"] == episode["cost"]
        for step in steps:
            assert set(step) == {"event", "goal", "input", "output", "state", "decision"}
    # tracing runs the controller episode by episode; its numbers equal the fast path's
    fast = json.loads((tmp_path / "r.json").read_text())
    assert main([*args, "--json", "--out", str(tmp_path / "f.json")]) == 0
    assert json.loads((tmp_path / "f.json").read_text())["metrics"] == fast["metrics"]


def test_sweep_writes_a_plot_and_rows(store: Path, tmp_path: Path) -> None:
    plot = tmp_path / "curve.png"
    out = tmp_path / "rows.csv"
    args = ["sweep", "--data", str(store), "-c", "sc", "-c", "cmc", "--betas", "0:1:0.5"]
    assert main([*args, "--seeds", "2", "--plot", str(plot), "--csv", "--out", str(out), "-q"]) == 0
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    rows = list(csv.DictReader(out.read_text().splitlines()))
    assert list(rows[0])[:5] == ["controller", "beta", "accuracy", "tokens", "seq_tokens"]
    assert len(rows) == 2 * 3
    assert json.loads(rows[0]["protocol"]) == {"name": "reference", "seeds": [0, 1]}
    assert len(rows[0]["data_sha256"]) == 64
    tokens = [float(r["tokens"]) for r in rows if r["controller"] == "sc"]
    assert tokens == sorted(tokens)  # sc spends more as β grows
