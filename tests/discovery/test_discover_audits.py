"""A discovery run audits its candidates where they are scored: a file that plays honestly
in the check (few episodes per process) and peeks in the evaluation's long processes is
rejected, and the honest candidate is selected; the audits are recorded in the run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from autotts.discovery.api import discover
from tests.conftest import ROOT

#: Honest for the first 400 episodes of its process (the round's check plays fewer in
#: one), peeking afterwards: tests/sandbox/late_peeker.py with a later start.
LATE_PEEKER = (
    (ROOT / "tests" / "sandbox" / "late_peeker.py")
    .read_text()
    .replace("count > 40:", "count > 400:")
)


def test_a_peeker_that_passes_the_check_is_rejected_by_the_rounds_audit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AUTOTTS_AUDIT_SHARE", "1")  # every cell (by default half of them)
    candidates = tmp_path / "candidates"
    candidates.mkdir()
    (candidates / "01_late_peeker.py").write_text(LATE_PEEKER)
    (candidates / "02_first_agreement.py").write_text(
        (ROOT / "examples" / "first_agreement.py").read_text()
    )
    out = tmp_path / "run"
    run = discover(
        out,
        proposer="scripted",
        data="synthetic",
        models=["Synth-Small"],
        betas=[0.5, 1.0],
        seeds=20,
        heldout_seeds=2,
        rounds=2,
        candidates=candidates,
    )
    index = [json.loads(line) for line in (out / "index.jsonl").read_text().splitlines()]
    first, second = index
    check = json.loads((out / "rounds" / "0001" / "check.json").read_text())
    # Accepted by the check (its worker plays 150 episodes), rejected by an audited cell.
    assert [c["passed"] for c in check["checks"]] == [True] * 6, check
    assert first["verdict"] == "rejected", first
    assert first["reason"] in {"peeking", "nondeterministic"}, first
    assert "fresh process" in check["detail"]
    assert second["verdict"] == "accepted"
    selection = run.selection()
    assert selection is not None and selection.name == "02_first_agreement"
