"""Malformed replay files fail with one precise line, in the library and through the CLI."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from autotts.cli.main import main
from autotts.data.loading import load_replay
from autotts.errors import DataFormatError


def _question(**changes: Any) -> dict[str, Any]:
    item: dict[str, Any] = {
        "question": "What is 2 + 3?",
        "final_answers_trace": ["5", "5"],
        "each_branch": [[["ERR", "5"], 900, "5"], [["4", "5", "5"], 1400, "5"]],
        "gold_answer": "5",
        "probe_freq": 500,
    }
    for key, value in changes.items():
        if value is _DELETE:
            del item[key]
        else:
            item[key] = value
    return item


_DELETE = object()
GOOD = _question()


def _branch(index: int, branch: Any) -> dict[str, Any]:
    """GOOD with branch ``index`` replaced."""
    item = _question()
    item["each_branch"][index] = branch
    return item


def _json(document: Any) -> bytes:
    return json.dumps(document).encode()


@dataclass(frozen=True)
class Case:
    content: bytes | None  # None: do not create the file
    problem: str  # must appear in the message
    question: int | None = None
    branch: int | None = None
    setup: Callable[[Path], None] | None = None
    cli_problem: str | None = None  # when `autotts data info` reads the path differently


CASES: dict[str, Case] = {
    "bad JSON": Case(b'[{"question": "x",', "invalid JSON at line 1 column"),
    "trailing garbage": Case(_json([GOOD]) + b" }", "invalid JSON at line 1"),
    "not a list": Case(
        _json({"question": "x"}), "expected a JSON list of questions, got an object"
    ),
    "a bare string": Case(_json("hello"), "expected a JSON list of questions, got a string"),
    "empty list": Case(b"[]", "the file holds no questions"),
    "question not an object": Case(
        _json([GOOD, 5]), "expected a question object, got a number (5)", question=1
    ),
    "question is null": Case(_json([None]), "expected a question object, got null", question=0),
    "missing question": Case(
        _json([_question(question=_DELETE)]), "missing key 'question'", question=0
    ),
    "missing gold_answer": Case(
        _json([GOOD, _question(gold_answer=_DELETE)]), "missing key 'gold_answer'", question=1
    ),
    "missing probe_freq": Case(
        _json([_question(probe_freq=_DELETE)]), "missing key 'probe_freq'", question=0
    ),
    "missing each_branch": Case(
        _json([_question(each_branch=_DELETE)]), "missing key 'each_branch'", question=0
    ),
    "missing two keys": Case(
        _json([_question(gold_answer=_DELETE, probe_freq=_DELETE)]),
        "missing keys 'gold_answer', 'probe_freq'",
        question=0,
    ),
    "question text not a string": Case(
        _json([_question(question=["x"])]), "'question' must be a string, got a list", question=0
    ),
    "gold answer a number": Case(
        _json([_question(gold_answer=204)]),
        "'gold_answer' must be a string, got a number (204)",
        question=0,
    ),
    "probe_freq a string": Case(
        _json([_question(probe_freq="500")]),
        "'probe_freq' must be an integer, got a string",
        question=0,
    ),
    "probe_freq a float": Case(
        _json([_question(probe_freq=500.0)]),
        "'probe_freq' must be an integer, got a number (500.0)",
        question=0,
    ),
    "probe_freq zero": Case(
        _json([_question(probe_freq=0)]), "'probe_freq' must be positive, got 0", question=0
    ),
    "probe_freq negative": Case(
        _json([GOOD, GOOD, _question(probe_freq=-500)]),
        "'probe_freq' must be positive, got -500",
        question=2,
    ),
    "each_branch an object": Case(
        _json([_question(each_branch={})]),
        "'each_branch' must be a list, got an object",
        question=0,
    ),
    "empty branch list": Case(
        _json([_question(each_branch=[])]),
        "'each_branch' is empty: a question needs at least one trajectory",
        question=0,
    ),
    "trace not strings": Case(
        _json([_question(final_answers_trace=["5", 5])]),
        "'final_answers_trace' must be a list of strings",
        question=0,
    ),
    "branch a 2-list": Case(
        _json([_branch(1, [["5"], 900])]),
        "expected [probe_list, branch_tokens, final_answer], got a list of 2",
        question=0,
        branch=1,
    ),
    "branch a 4-list": Case(
        _json([_branch(0, [["5"], 900, "5", "extra"])]),
        "expected [probe_list, branch_tokens, final_answer], got a list of 4",
        question=0,
        branch=0,
    ),
    "branch an object": Case(
        _json([GOOD, _branch(1, {"probes": []})]),
        "expected [probe_list, branch_tokens, final_answer], got an object",
        question=1,
        branch=1,
    ),
    "probe list a string": Case(
        _json([_branch(0, ["5", 900, "5"])]),
        "probe_list must be a list of strings, got a string",
        question=0,
        branch=0,
    ),
    "non-string probe": Case(
        _json([_branch(1, [["5", 7, "5"], 900, "5"])]),
        "probe 1 must be a string, got a number (7)",
        question=0,
        branch=1,
    ),
    "null probe": Case(
        _json([_branch(0, [[None], 900, "5"])]),
        "probe 0 must be a string, got null",
        question=0,
        branch=0,
    ),
    "negative tokens": Case(
        _json([_branch(1, [["5"], -5, "5"])]),
        "branch_tokens must not be negative, got -5",
        question=0,
        branch=1,
    ),
    "bool tokens": Case(
        _json([_branch(0, [["5"], True, "5"])]),
        "branch_tokens must be an integer, got a boolean",
        question=0,
        branch=0,
    ),
    "float tokens": Case(
        _json([_branch(0, [["5"], 900.5, "5"])]),
        "branch_tokens must be an integer, got a number (900.5)",
        question=0,
        branch=0,
    ),
    "string tokens": Case(
        _json([_branch(0, [["5"], "900", "5"])]),
        "branch_tokens must be an integer, got a string",
        question=0,
        branch=0,
    ),
    "absurd tokens": Case(
        _json([_branch(0, [["5"], 10**15, "5"])]),
        "branch_tokens is implausibly large",
        question=0,
        branch=0,
    ),
    "final answer null": Case(
        _json([GOOD, GOOD, _branch(1, [["5"], 900, None])]),
        "final_answer must be a string, got null",
        question=2,
        branch=1,
    ),
    "non-UTF-8 bytes": Case(b'[{"question": "\xff\xfe caf\xe9"}]', "not UTF-8 text"),
    "nested too deeply": Case(b"[" * 200_000 + b"]" * 200_000, "nested too deeply"),
    "missing file": Case(None, "no such file"),
    "directory": Case(
        None,
        "is a directory, expected a replay .json file",
        setup=lambda p: p.mkdir(),
        cli_problem="no replay files",  # info reads a folder as a store
    ),
}


def _make(tmp_path: Path, case: Case) -> Path:
    path = tmp_path / "Model-X" / "bench.json"
    path.parent.mkdir()
    if case.setup is not None:
        case.setup(path)
    elif case.content is not None:
        path.write_bytes(case.content)
    return path


def test_the_base_question_is_valid(tmp_path: Path) -> None:
    path = tmp_path / "ok.json"
    path.write_bytes(_json([GOOD, GOOD]))
    replay = load_replay(path)
    assert len(replay) == 2 and replay.gold == ("5", "5")


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_malformed_file_names_file_question_branch_and_problem(tmp_path: Path, case: Case) -> None:
    path = _make(tmp_path, case)
    with pytest.raises(DataFormatError) as info:
        load_replay(path)
    error = info.value
    message = str(error)
    assert "\n" not in message
    assert message.startswith(f"{path}: ")
    assert case.problem in message
    assert (error.path, error.question, error.branch) == (str(path), case.question, case.branch)
    where = "" if case.question is None else f"question {case.question}"
    if case.branch is not None:
        where += f", branch {case.branch}"
    if where:
        assert message.startswith(f"{path}: {where}: ")
    else:
        assert not re.match(r"question \d", message[len(f"{path}: ") :])


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_cli_info_reports_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], case: Case
) -> None:
    path = _make(tmp_path, case)
    assert main(["data", "info", str(path)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith(f"error: {path}: " if case.cli_problem is None else "error: ")
    assert (case.cli_problem or case.problem) in lines[0]
    assert str(path) in lines[0]
    assert "Traceback" not in captured.err
