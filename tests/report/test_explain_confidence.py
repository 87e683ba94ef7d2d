"""Probe confidences in trace files and ``autotts explain`` (data with and without them)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from autotts.cli.main import main
from autotts.data.synthetic import write_synthetic_store
from autotts.report.trace_view import episode_view


@pytest.mark.parametrize("confidence", [True, False])
def test_traces_and_explain_show_probe_confidence(
    confidence: bool, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = tmp_path / "store"
    write_synthetic_store(store, questions=3, branches=16, seed=2, confidence=confidence)
    traces = tmp_path / "t.jsonl"
    args = ["eval", "--data", str(store), "-m", "Synth-Small", "-B", "aime24", "--seeds", "1"]
    assert main([*args, "-c", "parallel-probe", "-p", "num_chains=8", "--traces", str(traces)]) == 0
    rows = [json.loads(line) for line in traces.read_text().splitlines()]
    reads = [s for row in rows for s in row["trace"] if s["event"] == "read"]
    probes = [s for s in reads if not s["output"]["finished"]]
    assert probes
    if confidence:  # every probe of this data has one, and no final answer does
        assert all(0 < s["output"]["confidence"] <= 1 for s in probes)
    assert not any("confidence" in s["output"] for s in reads if s["output"]["finished"])
    if not confidence:  # read steps exactly as they always were
        assert all(set(s["output"]) == {"answer", "finished"} for s in reads)

    view = episode_view(rows[0])
    values = [r.confidence for b in view.branches for r in b.reads if r.confidence is not None]
    assert bool(values) == confidence
    capsys.readouterr()
    assert main(["explain", str(traces), "--episode", "0:0"]) == 0
    out = capsys.readouterr().out
    assert ("probe confidence:" in out) == confidence
    if confidence:
        assert f"{len(values)} reads, mean {sum(values) / len(values):.3f}" in out
