"""SIGKILL in the middle of a round, then --resume, gives the same run as no interruption;
Ctrl-C stops cleanly; limits stop the search before a round starts."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT
from tests.helpers import without_audits

CANDIDATES = ROOT / "examples" / "candidates"
ARGS = [
    "--data", "synthetic", "--candidates", str(CANDIDATES), "--betas", "0,0.5,1",
    "--seeds", "4", "--heldout-seeds", "4", "--quiet",
]  # fmt: skip
VOLATILE = {"seconds", "seconds_total"}


def _command(out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "autotts.cli.main", "discover", "--out", str(out), *ARGS, *extra]


def _snapshot(run: Path) -> dict[str, Any]:
    """Every file of a run except run.json (start time), with timings removed, and what
    is drawn afresh in every run: the audits' seeds (audits.json, the check's look-ahead
    cells) and the check's random β (its monotonicity table); every verdict stays."""
    files: dict[str, Any] = {}
    for path in sorted(run.rglob("*")):
        rel = path.relative_to(run).as_posix()
        if path.is_dir() or rel == "run.json" or rel.endswith("audits.json"):
            continue
        text = path.read_text(encoding="utf-8").replace(str(run), "RUN")
        if text.startswith("# Trace digest\n\nNot evaluated: "):  # the audit's words vary
            text = text.split(":")[0] + ": " + text.split(": ")[1].split(":")[0]
        data = without_audits(json.loads(text)) if rel.endswith(".json") else None
        if isinstance(data, dict) and rel.endswith("check.json"):
            drop = ("monotonicity", "controller", "detail")
            data = {k: v for k, v in data.items() if k not in drop}
            data["checks"] = [(c["name"], c["passed"]) for c in data.get("checks", [])]
        if isinstance(data, dict):  # round.json, check.json, ...: timings dropped
            files[rel] = {k: v for k, v in data.items() if k not in VOLATILE}
        elif rel == "index.jsonl":
            files[rel] = [
                {k: v for k, v in json.loads(line).items() if k not in (*VOLATILE, "detail")}
                for line in text.splitlines()
            ]
        else:
            files[rel] = text
    return files


def _wait_for(path: Path, process: subprocess.Popen[str], limit: float = 120.0) -> None:
    end = time.monotonic() + limit
    while not path.exists():
        assert process.poll() is None, "the run ended before the round began"
        assert time.monotonic() < end, f"{path} never appeared"
        time.sleep(0.005)


@pytest.mark.slow
def test_sigkill_mid_round_then_resume_equals_an_uninterrupted_run(tmp_path: Path) -> None:
    reference = tmp_path / "reference"
    subprocess.run(_command(reference), check=True, capture_output=True, timeout=600)

    killed = tmp_path / "killed"
    process = subprocess.Popen(_command(killed), stderr=subprocess.PIPE, text=True)
    _wait_for(killed / "rounds" / ".tmp-0004" / "candidate.py", process)  # CMC's round
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL
    finished = [json.loads(x) for x in (killed / "index.jsonl").read_text().splitlines()]
    assert [e["round"] for e in finished] == [1, 2, 3]
    assert not (killed / "selection.json").exists()

    resumed = subprocess.run(
        _command(killed, "--resume"), capture_output=True, text=True, timeout=600
    )
    assert resumed.returncode == 0, resumed.stderr
    assert _snapshot(killed) == _snapshot(reference)


#: A fourth candidate whose round lasts a minute or more (it spins before every answer),
#: so that Ctrl-C sent as the round begins lands in it even on a loaded machine (with
#: the example CMC as round 3, a CI run once finished the whole search first).
SLOW = """from autotts import Controller, majority


class Slow(Controller):
    def __init__(self, beta=0.5):
        self.beta = beta

    def solve(self, session):
        spun = 0
        for i in range(300_000):
            spun += i
        return majority([session.full_read() for _ in range(2)])
"""


@pytest.mark.slow
def test_ctrl_c_keeps_finished_rounds_and_exits_130(tmp_path: Path) -> None:
    out, candidates = tmp_path / "run", tmp_path / "candidates"
    candidates.mkdir()
    for path in sorted(CANDIDATES.glob("*.py"))[:3]:
        (candidates / path.name).write_text(path.read_text())
    (candidates / "04_slow.py").write_text(SLOW)
    command = [str(candidates) if a == str(CANDIDATES) else a for a in _command(out)]
    process = subprocess.Popen(command, stderr=subprocess.PIPE, text=True)
    _wait_for(out / "rounds" / ".tmp-0004" / "candidate.py", process)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    assert "Traceback" not in err
    assert "--resume" in err
    assert not list((out / "rounds").glob(".tmp-*"))
    rounds = [json.loads(x)["round"] for x in (out / "index.jsonl").read_text().splitlines()]
    assert rounds == [1, 2, 3]


def test_time_limit_stops_before_the_first_round(tmp_path: Path) -> None:
    out = tmp_path / "run"
    done = subprocess.run(
        _command(out, "--max-time", "0"), capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    assert not (out / "index.jsonl").exists()
    selection = json.loads((out / "selection.json").read_text())
    assert selection["round"] is None
    assert not (out / "heldout.json").exists()


def test_bad_arguments_are_one_line_errors(tmp_path: Path) -> None:
    for extra, message in [
        (["--candidates", str(tmp_path / "nope")], "not a folder"),
        (["--select", "pareto"], "unknown selection rule"),
        (["--betas", "0,2"], "[0, 1]"),
        (["--proposer", "openai"], "--llm-model"),
        (["--proposer", "agent"], "--agent-cmd"),
        (["--proposer", "gpt"], "unknown proposer"),
    ]:
        command = _command(tmp_path / f"run-{len(extra)}-{message[:3]}", *extra)
        done = subprocess.run(command, capture_output=True, text=True, timeout=120)
        assert done.returncode == 2, done.stderr
        assert message in done.stderr
        assert "Traceback" not in done.stderr
    resume = subprocess.run(
        _command(tmp_path / "absent", "--resume"), capture_output=True, text=True, timeout=120
    )
    assert resume.returncode == 2 and "no discovery run" in resume.stderr
    report = subprocess.run(
        [sys.executable, "-m", "autotts.cli.main", "report", str(tmp_path / "absent")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert report.returncode == 2 and "no discovery run" in report.stderr


def test_held_out_files_are_not_read_before_selection(tmp_path: Path) -> None:
    """Held-out files that cannot even be parsed do not disturb the search phase: they
    are read only after selection.json exists, and then fail with a one-line error."""
    store = tmp_path / "store"
    subprocess.run(
        [sys.executable, "-m", "autotts.cli.main", "data", "synth", "--out", str(store),
         "--questions", "6", "--branches", "16"],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    for held in store.glob("*/aime25.json"):
        held.write_text("not json: the search must never open this file")
    out = tmp_path / "run"
    command = _command(out, "--data", str(store), "--rounds", "2")
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert done.returncode == 2, done.stderr
    assert "aime25" in done.stderr and "Traceback" not in done.stderr
    assert [json.loads(x)["round"] for x in (out / "index.jsonl").read_text().splitlines()] == [
        1,
        2,
    ]
    assert (out / "selection.json").is_file() and not (out / "heldout.json").exists()
    assert "aime25" not in (out / "baselines.json").read_text()
