"""A raced result says how it was obtained as an unraced one does: the interpreter that
ran the file (it was lost for PyPy) and the audit of every seed block."""

from __future__ import annotations

import shutil

import pytest

from autotts.discovery.curves import curve_jobs
from autotts.discovery.racing import race_curves
from autotts.evaluation.executors import run_jobs
from autotts.evaluation.jobs import DataRef
from autotts.evaluation.protocols import ReferenceProtocol
from tests.conftest import ROOT

FILE = f"{ROOT / 'examples' / 'first_agreement.py'}:FirstAgreement"
REFS = [DataRef("synthetic", "Synth-Small", "aime24")]


@pytest.mark.skipif(shutil.which("pypy3") is None, reason="needs pypy3 on PATH")
def test_a_raced_result_on_pypy_records_the_interpreter_and_its_audits(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AUTOTTS_AUDIT_SHARE", "1")  # every block audited (by default half)
    jobs = curve_jobs(FILE, REFS, [0.5], ReferenceProtocol(20), interpreter="pypy")
    outcome = race_curves(jobs, incumbent=0.0, block=10, min_seeds=10)
    raced = outcome.results[0].controller
    unraced = run_jobs(jobs)[0].controller
    assert raced["interpreter"] == unraced["interpreter"] == "pypy"
    assert raced["sandbox"] == unraced["sandbox"]
    # One audit per seed block (two blocks of ten seeds), each in a worker of its own.
    assert [block["audited"] for block in raced["audit"]] == [True, True]
    assert all(block["interpreter"] == "pypy" for block in raced["audit"])
    assert outcome.results[0].metrics == run_jobs(jobs)[0].metrics
