"""Defaults that use the machine: every core, and PyPy when it is installed; the result
says which interpreter (and version) ran."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import typer.main

from autotts.cli.main import app
from autotts.sandbox.interpreter import pypy_path

ROOT = Path(__file__).resolve().parents[2]


def _option_default(command: str, name: str) -> object:
    group = typer.main.get_command(app)
    params = {p.name: p for p in group.commands[command].params}  # type: ignore[attr-defined]
    return params[name].default


@pytest.mark.parametrize("command", ["discover", "sweep", "table", "optimize"])
def test_commands_of_many_jobs_default_to_every_core(command: str) -> None:
    assert _option_default(command, "workers") is None  # None: all_cores()


@pytest.mark.parametrize("command", ["discover", "sweep", "eval"])
def test_the_interpreter_defaults_to_auto(command: str) -> None:
    assert _option_default(command, "interpreter") == "auto"


def test_all_cores_is_the_cpu_affinity_and_workers_lowers_it() -> None:
    code = (
        "import os; from autotts.cli.common import all_cores; "
        "print(all_cores(None), end=' '); os.sched_setaffinity(0, {0}); "
        "print(all_cores(None), all_cores(3))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == [str(len(os.sched_getaffinity(0))), "1", "3"]


def test_auto_is_pypy_only_where_pypy3_is_on_path(tmp_path: Path) -> None:
    code = "from autotts.evaluation.interpreters import resolve_interpreter as r; print(r('auto'))"
    env = {**os.environ, "PATH": str(tmp_path)}  # an empty folder: no pypy3
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert out.stdout.strip() == "cpython"
    if pypy_path() is not None:
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        assert out.stdout.strip() == "pypy"


@pytest.mark.skipif(pypy_path() is None, reason="pypy3 is not installed")
def test_a_file_runs_on_pypy_by_default_and_the_result_says_so() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "autotts.cli.main", "eval", "--data", "synthetic", "-c",
         str(ROOT / "examples" / "candidates" / "01_first_votes.py"), "-b", "0.5",
         "--seeds", "3", "--json", "-q"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    controller = json.loads(result.stdout)["controller"]
    assert controller["interpreter"] == "pypy"
    assert controller["interpreter_version"].startswith("PyPy 7.")
    assert "(Python 3." in controller["interpreter_version"]


def test_a_cpython_result_names_its_version() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "autotts.cli.main", "eval", "--data", "synthetic", "-c",
         str(ROOT / "examples" / "candidates" / "01_first_votes.py"), "-b", "0.5",
         "--seeds", "2", "--json", "-q", "--interpreter", "cpython"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    controller = json.loads(result.stdout)["controller"]
    assert "interpreter" not in controller  # CPython is the default record, as before
    assert controller["interpreter_version"] == f"CPython {sys.version.split()[0]}"
