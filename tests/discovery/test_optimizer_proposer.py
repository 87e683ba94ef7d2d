"""The optimiser as a proposer of the discovery loop (``discover --proposer optimizer``):
its rounds are checked, evaluated and selected like any other; its study survives a
real Ctrl-C and a resume; it never sees a held-out file."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from autotts.data.refs import data_refs
from autotts.discovery.loop import run_discovery
from autotts.discovery.proposers import make_proposer
from autotts.discovery.proposers.base import Proposal, ProposalContext
from autotts.discovery.settings import DiscoverySettings, split_refs
from autotts.errors import UsageError

pytest.importorskip("optuna")

from tests.helpers import run_index

CLI = [sys.executable, "-m", "autotts.cli.main"]
SMALL = ["--data", "synthetic", "--betas", "0,0.5,1", "--seeds", "2", "--heldout-seeds", "1"]


def _trials(run: Path) -> int:
    import optuna
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    storage = JournalStorage(JournalFileBackend(str(run / "proposer" / "optuna.journal")))
    study = optuna.load_study(study_name="autotts-optimizer", storage=storage)
    return sum(1 for t in study.trials if t.state.name == "COMPLETE")


def test_each_round_proposes_a_new_trial_that_the_loop_checks_and_evaluates(
    tmp_path: Path,
) -> None:
    run = tmp_path / "run"
    done = subprocess.run(
        [*CLI, "discover", "--proposer", "optimizer", "--out", str(run), "--rounds", "2",
         "--search-time", "3", "--workers", "1", "--quiet", *SMALL],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    meta = json.loads((run / "run.json").read_text())
    assert "optimizer" not in meta  # the key of `autotts optimize` runs
    assert meta["proposer"]["kind"] == "optimizer" and meta["proposer"]["seconds"] == 3
    rounds = run_index(run)
    names = [r["name"] for r in rounds]
    assert len(rounds) == 2 and len(set(names)) == 2
    assert all(n.startswith("opt-t") for n in names)
    for entry in rounds:
        folder = run / "rounds" / f"{entry['round']:04d}"
        check = json.loads((folder / "check.json").read_text())
        # the sandbox's check, as for an LLM's file: its audited cells ran
        assert check["verdict"] == "accepted" and check["checks"]
        curves = json.loads((folder / "curves.json").read_text())
        assert {p["beta"] for p in curves["points"]} == {0.0, 0.5, 1.0}
        proposal = json.loads((folder / "proposal.json").read_text())
        assert proposal["name"] == f"opt-t{proposal['trial']}" and proposal["money"] == 0.0
    # a later round's study has run longer: more trials behind its proposal
    first, second = (json.loads((run / "rounds" / f"{n:04d}" / "proposal.json").read_text())
                     for n in (1, 2))  # fmt: skip
    assert second["trials"] > first["trials"]
    assert (run / "selection.json").is_file() and (run / "heldout.json").is_file()


def test_a_real_ctrl_c_keeps_the_study_and_the_resume_continues_it(tmp_path: Path) -> None:
    run = tmp_path / "run"
    args = [*CLI, "discover", "--proposer", "optimizer", "--out", str(run), "--rounds", "2",
            "--search-time", "6", "--workers", "1", "--quiet", *SMALL]  # fmt: skip
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 300
    while len(run_index(run)) < 1 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.2)
    assert len(run_index(run)) == 1, proc.communicate()[1]
    time.sleep(3)  # inside round 2's search
    os.kill(proc.pid, signal.SIGINT)
    _out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    assert len(run_index(run)) == 1  # the round in flight is dropped, the first kept
    before = _trials(run)
    assert before >= 1
    resumed = subprocess.run(
        [*CLI, "discover", "--resume", "--out", str(run), "--quiet"],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr
    names = [r["name"] for r in run_index(run)]
    assert len(names) == 2 and len(set(names)) == 2
    assert _trials(run) > before  # the same study, searched further
    changed = subprocess.run(
        [*CLI, "discover", "--resume", "--out", str(run), "--search-time", "9"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert changed.returncode == 2 and "--search-time" in changed.stderr


def test_an_optimize_run_is_not_resumed_by_discover(tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    (run / "run.json").write_text(json.dumps({"mode": "optimizer", "optimizer": {},
                                              "proposer": {"kind": "optimizer"}}))  # fmt: skip
    with pytest.raises(UsageError, match="autotts optimize --resume"):
        run_discovery(run, make_proposer("optimizer", seconds=1), resume=True)


class _Recording:
    """A proposer that keeps what the loop hands it and proposes nothing."""

    kind = "recording"

    def __init__(self) -> None:
        self.contexts: list[ProposalContext] = []

    def describe(self) -> dict[str, Any]:
        return {"kind": self.kind}

    def remaining(self, round_number: int) -> bool:
        return True

    def propose(self, context: ProposalContext) -> Proposal:
        self.contexts.append(context)
        return Proposal(None, error="recording only")


def test_a_proposer_is_handed_the_search_files_and_a_kept_folder_never_the_heldout(
    tmp_path: Path,
) -> None:
    search, heldout = split_refs(data_refs("synthetic"), None, None, None)
    settings = DiscoverySettings(search=search, heldout=heldout, betas=[0.0, 1.0],
                                 protocol_args={"name": "reference", "seeds": 1}, rounds=2,
                                 no_trace_digest=True)  # fmt: skip
    proposer = _Recording()
    run_discovery(tmp_path / "run", proposer, settings)
    assert len(proposer.contexts) == 2
    for context in proposer.contexts:
        assert context.search == search
        assert not {(r.model, r.benchmark) for r in heldout} & {
            (r.model, r.benchmark) for r in context.search
        }
        assert context.state == tmp_path / "run" / "proposer"


def test_bad_optimizer_options_are_usage_errors() -> None:
    with pytest.raises(UsageError):
        make_proposer("optimizer", seconds=0)
    with pytest.raises(UsageError):
        make_proposer("optimizer", sampler="nope")
    with pytest.raises(UsageError):
        make_proposer("optimizer", colour="blue")
