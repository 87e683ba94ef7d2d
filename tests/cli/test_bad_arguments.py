"""Bad command-line arguments: a clear one-line message and exit code 2, never a traceback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from autotts.cli.main import main
from tests.controllers.random_replay import random_document


@pytest.fixture()
def store(tmp_path: Path) -> Path:
    root = tmp_path / "store"
    for benchmark, seed in (("aime24", 1), ("aime25", 2)):
        path = root / "Tiny" / f"{benchmark}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(random_document(seed, questions=3, branches=16)))
    return root


def write_controller(tmp_path: Path, body: str, name: str = "ctl.py") -> str:
    path = tmp_path / name
    path.write_text(
        "from autotts import Controller\n"
        "class C(Controller):\n"
        "    def __init__(self, beta: float = 0.5):\n"
        "        self.beta = beta\n"
        "    def solve(self, session):\n" + body + "\n"
    )
    return f"{path}:C"


CASES = {
    "unknown controller": (["eval", "-c", "cmx"], "unknown controller 'cmx'; did you mean 'cmc'"),
    "beta out of range": (["eval", "-c", "cmc", "--beta", "1.5"], "beta must be in [0, 1]"),
    "beta and params": (
        ["eval", "-c", "sc", "--beta", "0.5", "-p", "n=3"],
        "give either beta or explicit parameters",
    ),
    "unknown parameter": (["eval", "-c", "sc", "-p", "nn=3"], "did you mean 'n'"),
    "bad parameter value": (["eval", "-c", "sc", "-p", "n=0"], "n must be >= 1"),
    "parameter without value": (["eval", "-c", "sc", "-p", "n"], "--param expects key=value"),
    "unknown model": (
        ["eval", "-c", "sc", "-m", "Tony"],
        "unknown model 'Tony'; did you mean 'Tiny'",
    ),
    "unknown benchmark": (["eval", "-c", "sc", "-B", "aime42"], "unknown benchmark 'aime42'"),
    "unknown protocol": (["eval", "-c", "sc", "--protocol", "bogus"], "unknown protocol 'bogus'"),
    "subsample larger than pool": (
        ["eval", "-c", "sc", "--protocol", "subsample", "--size", "500"],
        "subsample size 500 exceeds",
    ),
    "betas negative step": (["sweep", "-c", "sc", "--betas", "0:1:-0.1"], "step must be positive"),
    "betas out of range": (["sweep", "-c", "sc", "--betas", "0,2"], "must lie in [0, 1]"),
    "betas garbage": (["sweep", "-c", "sc", "--betas", "abc"], "--betas expects"),
    "plot suffix": (["sweep", "-c", "sc", "--betas", "1", "--plot", "x.txt"], "must end in .png"),
    "two output formats": (["table", "--json", "--csv"], "choose one of"),
    "unknown table method": (["table", "--methods", "SC@65"], "did you mean 'SC@64'"),
    "missing controller file": (["eval", "-c", "nowhere.py:C"], "nowhere.py does not exist"),
}


@pytest.mark.parametrize(("args", "expected"), CASES.values(), ids=CASES.keys())
def test_bad_argument(
    args: list[str], expected: str, store: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main([*args, "--data", str(store)])
    captured = capsys.readouterr()
    assert code == 2
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("error: ")
    assert expected in lines[0]
    assert "Traceback" not in captured.err


def test_missing_data_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["table", "--data", str(tmp_path / "none")]) == 2
    err = capsys.readouterr().err
    assert "does not exist" in err and "autotts data download" in err


def test_empty_data_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["table", "--data", str(tmp_path)]) == 2
    assert "no replay files" in capsys.readouterr().err


def test_malformed_replay_file_in_store(store: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (store / "Tiny" / "aime24.json").write_text('[{"question": "q"}]')
    assert main(["eval", "-c", "sc", "--data", str(store)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "aime24.json: question 0: missing keys" in err


def test_click_usage_errors_exit_2(store: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["table", "--workers", "0", "--data", str(store)]) == 2
    assert main(["eval", "--data", str(store)]) == 2  # --controller is required
    assert main(["frobnicate"]) == 2
    assert "Traceback" not in capsys.readouterr().err


CONTROLLER_FAULTS = {
    "raises": (
        "        raise RuntimeError('boom')",
        "C crashed on question 0 (replicate 0): RuntimeError at ",
    ),
    "returns int": (
        "        return 42",
        "on question 0 (replicate 0): returned int; solve() must return a str or None",
    ),
    "illegal action": (
        "        session.probe_more(7)\n        return None",
        "branch 7 is not open",
    ),
    "syntax error": ("        return (", "ctl.py:6: syntax error"),
    "class missing": (None, "unknown class in"),
    # The sandbox, not the static audit, is the boundary: what the file reaches is its own.
    "private attribute": (
        "        return session._question",
        "returned ReplayQuestion; solve() must",
    ),
}


@pytest.mark.parametrize(
    ("body", "expected"), CONTROLLER_FAULTS.values(), ids=CONTROLLER_FAULTS.keys()
)
def test_faulty_controller_file(
    body: str | None, expected: str, store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    reference = write_controller(tmp_path, body or "        return None")
    if body is None:
        reference = reference[:-2] + ":Missing"
    assert main(["eval", "-c", reference, "--data", str(store), "--seeds", "2"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ")
    assert expected in err[0]
