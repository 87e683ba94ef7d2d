"""``discover --out run --resume`` alone: settings from run.json, changed flags refused,
and a finished run's best round shown (the real command, in a child process)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from autotts.discovery.settings import proposer_options, resume_conflicts

ROOT = Path(__file__).resolve().parents[2]


def autotts(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "autotts.cli.main", *args],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=cwd,
    )


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A one-round run on the synthetic data, finished (selection and held-out written)."""
    root = tmp_path_factory.mktemp("resume")
    candidates = root / "candidates"
    candidates.mkdir()
    shutil.copy(ROOT / "examples" / "candidates" / "01_first_votes.py", candidates)
    done = autotts(
        "discover", "--out", "run", "--data", "synthetic", "--candidates", "candidates",
        "--betas", "0,1", "--seeds", "2", "--heldout-seeds", "2", "--rounds", "1", "-w", "1",
        cwd=root,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return root


def test_resume_alone_takes_the_runs_settings(finished_run: Path) -> None:
    # from another folder, with no proposer flag: was "--proposer scripted needs --candidates"
    elsewhere = finished_run / "elsewhere"
    elsewhere.mkdir(exist_ok=True)
    done = autotts("discover", "--out", str(finished_run / "run"), "--resume", cwd=elsewhere)
    assert done.returncode == 0, done.stderr
    assert "selected round 1 (01_first_votes" in done.stdout
    # a finished run has a best round before any new one is recorded
    assert "best: none yet" not in done.stderr
    assert "best: round 1 β=" in done.stderr


def test_resume_refuses_a_changed_flag(finished_run: Path) -> None:
    done = autotts(
        "discover", "--out", "run", "--resume", "--betas", "0,0.5,1", "--seeds", "3",
        cwd=finished_run,
    )  # fmt: skip
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert "--betas: 0,0.5,1, the run has 0,1" in done.stderr
    assert "--seeds: 3, the run has 2" in done.stderr


def test_resume_accepts_the_same_flags_given_again(finished_run: Path) -> None:
    done = autotts(
        "discover", "--out", "run", "--resume", "--betas", "0:1:1", "--candidates",
        "candidates", "--proposer", "scripted", "--data", "synthetic", "-w", "2",
        cwd=finished_run,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr


RUN = {
    "mode": "openai",
    "proposer": {
        "kind": "openai",
        "model": "gpt-x",
        "base_url": "http://h/v1",
        "api_key_env": "K",
        "price_in_per_million": 1.0,
        "price_out_per_million": 2.0,
        "context_budget_chars": 1000,
        "critic": False,
    },
    "search": [{"store": "/data", "model": "A", "benchmark": "aime24"}],
    "heldout": [{"store": "/data", "model": "A", "benchmark": "aime25"}],
    "betas": [0.0, 0.5, 1.0],
    "protocol_args": {"name": "reference", "seeds": 100, "draws": 20, "size": 64, "seed": 0},
    "limits": {"rounds": 5, "max_cost": None, "max_time": None},
    "select": "accuracy",
    "heldout_seeds": 100,
    "interpreter": "pypy",
}


def test_proposer_options_rebuild_the_proposer() -> None:
    kind, options = proposer_options(RUN)
    assert kind == "openai"
    assert options["model"] == "gpt-x" and options["price_out"] == 2.0


@pytest.mark.parametrize(
    ("given", "conflict"),
    [
        ({"--betas": [0.0, 0.5, 1.0], "--seeds": 100}, None),
        ({"--betas": [0.0, 1.0]}, "--betas: 0,1, the run has 0,0.5,1"),
        ({"--select": "auc"}, "--select: auc, the run has accuracy"),
        ({"--race": True}, "--race: True, the run has False"),
        ({"--interpreter": "cpython"}, "--interpreter: cpython, the run has pypy"),
        ({"--rounds": 9}, "--rounds: 9, the run has 5"),
        ({"--models": ["B"]}, "--models: B, the run has A"),
        ({"--heldout-benchmarks": ["hmmt25"]}, "--heldout-benchmarks: hmmt25, the run has aime25"),
        ({"--llm-model": "other"}, "--llm-model: other, the run has gpt-x"),
        ({"--proposer": "anthropic"}, "--proposer: anthropic, the run has openai"),
        ({"--workers": 4, "--quiet": True}, None),  # how to run, not what: always allowed
    ],
)
def test_resume_conflicts(given: dict[str, object], conflict: str | None) -> None:
    assert resume_conflicts(RUN, given) == ([] if conflict is None else [conflict])
