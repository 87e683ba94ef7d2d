"""The result pipe: every byte a worker sends is hostile (:mod:`autotts.sandbox.protocol`).

A candidate runs inside the worker, so it can write any line on the protocol's output.
Real workers run controllers that do so (deep brackets, huge numbers, NaN, lone
surrogates, wrong types, extra fields, an early ``done``, forged failure reports and
replies); each must end in a clean rejection with its reason, the message worded by the
evaluator with the candidate's text only quoted, and the next candidate evaluated as
before. ``discover --resume`` over a run whose round met such a candidate completes.
"""

from __future__ import annotations

import json
import pickle
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from autotts.controllers.registry import ControllerSpec, build
from autotts.errors import REJECTION_REASONS, CandidateRejected, PartialEpisode
from autotts.evaluation.jobs import DataRef, load_data
from autotts.evaluation.protocols import ReferenceProtocol
from autotts.evaluation.runner import EpisodeRecord, run_episodes
from autotts.evaluation.sandboxed import run_in_sandbox
from autotts.sandbox import SandboxLimits, read_candidate
from autotts.sandbox.interpreter import pypy_path
from autotts.sandbox.protocol import (
    FAILURES,
    MAX_PARAMS,
    ProtocolError,
    check_params,
    parse_line,
    quote,
)
from tests.sandbox.conftest import FIRST_AGREEMENT, own_descendants

HOSTILE = Path(__file__).parent / "hostile"
LIMITS = SandboxLimits(episode_seconds=5, total_seconds=60)

#: A controller that writes ``LINE`` (a Python bytes literal) on the protocol's output in
#: its first episode, then plays honestly: the first answer it sees.
WRITER = """import sys

from autotts import Controller

LINE = @@LINE@@


class Writer(Controller):
    written = False

    def __init__(self, beta=0.5):
        self.beta = beta

    def solve(self, session):
        if not Writer.written:
            Writer.written = True
            frame = sys._getframe(1)
            while "out" not in frame.f_locals:
                frame = frame.f_back
            out = frame.f_locals["out"]
            out.write(LINE + b"\\n")
            out.flush()
        answer, _, _ = session.probe_new()
        return answer
"""


def _writer(tmp_path: Path, line: bytes) -> Path:
    path = tmp_path / "writer.py"
    path.write_text(WRITER.replace("@@LINE@@", repr(line)))
    return path


def _result(**fields: Any) -> bytes:
    """One compact run's batch holding one result ``{"a": None, "l": "", "c": 0}`` changed
    by ``fields``."""
    result: dict[str, Any] = {"a": None, "l": "", "c": 0, **fields}
    return json.dumps({"b": [result]}).encode()


def _failure(**fields: Any) -> bytes:
    report = {"ok": False, "reason": "crash", "what": "solve-raised", "episode": 0, **fields}
    return json.dumps(report).encode()


#: Lines a candidate writes during a compact run (``run_in_sandbox``'s usual path).
COMPACT_LINES: dict[str, bytes] = {
    "deep brackets": b"[" * 100_000,
    "deep objects": b'{"b":' * 50_000,
    "deep inside a result": b'{"b":[{"a":null,"l":"","c":0,"x":'
    + b"[" * 50_000
    + b"]" * 50_000
    + b"}]}",
    "number too long to convert": b'{"b":[{"a":null,"l":"","c":1' + b"0" * 5000 + b"}]}",
    "huge token count": _result(c=10**300),
    "negative token count": _result(c=-1),
    "NaN": b'{"b":[{"a":null,"l":"","c":NaN}]}',
    "Infinity": b'{"b":[{"a":null,"l":"","c":Infinity}]}',
    "overflowing float": b'{"b":[{"a":null,"l":"","c":1e999}]}',
    "lone surrogate escaped": b'{"b":[{"a":"\\ud800","l":"","c":0}]}',
    "lone surrogate raw": b'{"b":[{"a":"\xed\xa0\x80","l":"","c":0}]}',
    "not UTF-8": b'{"b":[{"a":"\xff","l":"","c":0}]}',
    "not JSON": b"controller accepted",
    "a list": b"[]",
    "a string": b'"done"',
    "null": b"null",
    "answer not a string": _result(a=5),
    "log not a string": _result(l=[-1]),
    "token count a string": _result(c="0"),
    "token count a bool": _result(c=True),
    "batch not a list": b'{"b":{"a":null,"l":"","c":0}}',
    "extra key in the batch line": b'{"b":[],"x":1}',
    "extra key in a result": _result(x=1),
    "missing key in a result": b'{"b":[{"l":"","c":0}]}',
    "more results than episodes": json.dumps({"b": [{"a": None, "l": "", "c": 0}] * 500}).encode(),
    "early done": b'{"done":1,"cpu":0.1}',
    "ok in a run": b'{"ok":true}',
    "unknown reason": _failure(reason="peeking"),
    "reason its failure does not allow": _failure(reason="load"),
    "a load failure in a run": _failure(reason="load", what="load-raised", episode=None),
    "unknown failure": _failure(what="accepted"),
    "old-style failure with prose": b'{"ok":false,"reason":"crash","detail":"accepted"}',
    "failure naming another episode": _failure(episode=7),
    "failure with a bool episode": _failure(episode=False),
    "failure with a line of text": _failure(line="12"),
    "failure with a type that is no name": _failure(type="\x1b[31mverdict: accepted"),
    "failure with a huge text": _failure(text="x" * 20_000),
    "failure naming a class in a run": _failure(**{"class": "Accepted"}),
    "failure with a partial log of garbage": _failure(partial={"l": ["x"], "t": None}),
    "failure with a trace in an untraced run": _failure(partial={"l": [], "t": []}),
}


def _honest_is_unchanged(replay_ref: DataRef) -> None:
    """The next candidate, in this process, evaluates to the numbers it has in process."""
    replay, protocol = load_data(replay_ref), ReferenceProtocol(seeds=1)
    honest = run_in_sandbox(read_candidate(str(FIRST_AGREEMENT)), replay, protocol, beta=0.5)
    trusted = build(ControllerSpec(f"{FIRST_AGREEMENT}:FirstAgreement", 0.5, trusted=True))
    expected = run_episodes(trusted, replay, protocol)
    assert np.array_equal(honest.table.correct, expected.correct)
    assert np.array_equal(honest.table.cost, expected.cost)


def _assert_clean(exc: CandidateRejected) -> None:
    """A rejection's message: one line of printable text."""
    assert str(exc).isprintable(), str(exc)
    assert exc.reason in REJECTION_REASONS


@pytest.mark.parametrize("line", COMPACT_LINES.values(), ids=COMPACT_LINES.keys())
def test_a_hostile_line_in_a_compact_run_is_a_clean_rejection(
    line: bytes, tmp_path: Path, small_ref: DataRef
) -> None:
    candidate = read_candidate(str(_writer(tmp_path, line)))
    with pytest.raises(CandidateRejected) as caught:
        run_in_sandbox(
            candidate, load_data(small_ref), ReferenceProtocol(2), beta=0.5, limits=LIMITS
        )
    assert caught.value.reason == "cheating", caught.value.detail
    _assert_clean(caught.value)
    assert own_descendants() == set()
    _honest_is_unchanged(small_ref)


@pytest.mark.parametrize(
    "line",
    [COMPACT_LINES["deep brackets"], COMPACT_LINES["NaN"], COMPACT_LINES["unknown reason"]],
    ids=["deep brackets", "NaN", "unknown reason"],
)
def test_a_hostile_line_from_a_pypy_worker_is_a_clean_rejection(
    line: bytes, tmp_path: Path, small_ref: DataRef
) -> None:
    if pypy_path() is None:
        pytest.skip("pypy3 is not installed")
    candidate = read_candidate(str(_writer(tmp_path, line)))
    limits = SandboxLimits(episode_seconds=5, total_seconds=60, interpreter="pypy")
    with pytest.raises(CandidateRejected) as caught:
        run_in_sandbox(
            candidate, load_data(small_ref), ReferenceProtocol(2), beta=0.5, limits=limits
        )
    assert caught.value.reason == "cheating", caught.value.detail
    _assert_clean(caught.value)


READ = {
    "event": "read",
    "goal": "",
    "input": {"branch": 0, "depth": 1, "full": False},
    "output": {"answer": "1", "finished": False},
    "state": {"charged": 10, "tokens": 10},
    "decision": "",
}


def _traced(**fields: Any) -> bytes:
    result: dict[str, Any] = {"a": None, "l": [], "c": 0, "t": [], **fields}
    return json.dumps(result).encode()


#: Lines a candidate writes during a traced run (one result a line, logs as lists).
TRACED_LINES: dict[str, bytes] = {
    "log of strings": _traced(l=["x"]),
    "log of bools": _traced(l=[True]),
    "log with a huge code": _traced(l=[2**40]),
    "log with an unknown negative code": _traced(l=[-3]),
    "no trace": _traced(t=None),
    "trace not a list": _traced(t={"event": "read"}),
    "step with a missing field": _traced(t=[{k: v for k, v in READ.items() if k != "goal"}]),
    "step with an extra field": _traced(t=[{**READ, "x": 1}]),
    "read step with a list input": _traced(t=[{**READ, "input": [0]}]),
    "read step with a string branch": _traced(
        t=[{**READ, "input": {"branch": "0", "depth": 1, "full": False}}]
    ),
    "step nested too deeply": _traced(t=[{**READ, "event": "look", "input": [[[[[[[1]]]]]]]}]),
    "step with a huge number": _traced(t=[{**READ, "event": "look", "state": 10**30}]),
    "step with a long string": _traced(t=[{**READ, "event": "look", "goal": "x" * 20_000}]),
}


@pytest.mark.parametrize("line", TRACED_LINES.values(), ids=TRACED_LINES.keys())
def test_a_hostile_line_in_a_traced_run_is_a_clean_rejection(
    line: bytes, tmp_path: Path, small_ref: DataRef
) -> None:
    candidate = read_candidate(str(_writer(tmp_path, line)))
    records: list[EpisodeRecord] = []
    with pytest.raises(CandidateRejected) as caught:
        run_in_sandbox(
            candidate,
            load_data(small_ref),
            ReferenceProtocol(1),
            beta=0.5,
            limits=LIMITS,
            trace_sink=lambda _r, _q, record: records.append(record),
        )
    assert caught.value.reason == "cheating", caught.value.detail
    _assert_clean(caught.value)
    assert records == []  # nothing the worker claimed was written


def test_a_forged_verdict_is_worded_by_the_evaluator_and_quoted(small_ref: DataRef) -> None:
    """The forger picks a reason its failure allows (here: a crash) and nothing more: the
    message is the evaluator's, the forged text one quoted line of printable characters."""
    candidate = read_candidate(str(HOSTILE / "forged_verdict.py"))
    with pytest.raises(CandidateRejected) as caught:
        run_in_sandbox(
            candidate, load_data(small_ref), ReferenceProtocol(1), beta=0.5, limits=LIMITS
        )
    message = str(caught.value)
    _assert_clean(caught.value)
    prefix = (
        "controller rejected (crash): Hostile crashed on question 0 (replicate 0): "
        "RuntimeError; the controller's message: '"
    )
    assert message.startswith(prefix), message
    quoted = message.removeprefix(prefix)
    assert quoted.endswith("'") and "'" not in quoted[:-1]  # the quote ends the message
    assert "verdict: accepted detalpmoc" in quoted  # the text, cleaned: no \n, ESC, U+202E
    assert "\x1b" not in message and "\n" not in message and "\u202e" not in message


def test_an_abstract_class_found_in_the_file_is_named(tmp_path: Path, small_ref: DataRef) -> None:
    path = tmp_path / "half.py"
    path.write_text(
        "from autotts import Controller\n\n\nclass Half(Controller):\n"
        "    def __init__(self, beta=0.5):\n        self.beta = beta\n"
    )
    with pytest.raises(CandidateRejected) as caught:
        run_in_sandbox(
            read_candidate(str(path)), load_data(small_ref), ReferenceProtocol(1), beta=0.5
        )
    assert (caught.value.reason, caught.value.detail) == (
        "interface",
        f"{path}: Half does not implement solve(session)",
    )


def test_the_candidates_stderr_is_quoted_cleanly(tmp_path: Path, small_ref: DataRef) -> None:
    path = tmp_path / "exits.py"
    path.write_text(
        "import os, sys\n\nfrom autotts import Controller\n\n\nclass Exits(Controller):\n"
        "    def __init__(self, beta=0.5):\n        self.beta = beta\n\n"
        "    def solve(self, session):\n"
        "        sys.stderr.write('\\x1b[32mverdict: accepted\\u202e\\n')\n"
        "        sys.stderr.flush()\n"
        "        os._exit(3)\n"
    )
    with pytest.raises(CandidateRejected) as caught:
        run_in_sandbox(
            read_candidate(str(path)), load_data(small_ref), ReferenceProtocol(1), beta=0.5
        )
    _assert_clean(caught.value)
    assert caught.value.detail == (
        "the controller process exited with code 3 before returning its results; "
        "its last line of error output: 'verdict: accepted'"
    )


def test_an_over_long_answer_is_bad_return_naming_the_episode(
    tmp_path: Path, small_ref: DataRef
) -> None:
    path = tmp_path / "long.py"
    path.write_text(
        "from autotts import Controller\n\n\nclass Long(Controller):\n"
        "    def __init__(self, beta=0.5):\n        self.beta = beta\n\n"
        "    def solve(self, session):\n        return 'x' * 2000\n"
    )
    with pytest.raises(CandidateRejected) as caught:
        run_in_sandbox(
            read_candidate(str(path)), load_data(small_ref), ReferenceProtocol(1), beta=0.5
        )
    assert (caught.value.reason, caught.value.detail) == (
        "bad-return",
        "Long on question 0 (replicate 0): answer of 2000 characters (at most 1000)",
    )


PARAMS_CASES = {
    "a list": "[('beta', self.beta)]",
    "too many entries": f"{{f'p{{i}}': i for i in range({MAX_PARAMS + 1})}}",
    "a key that is no identifier": "{'not an identifier': 1}",
    "a key that is not a string": "{1: 1}",
    "a long key": "{'k' * 100: 1}",
    "a nested value": "{'beta': [self.beta]}",
    "NaN": "{'beta': float('nan')}",
    "infinity": "{'beta': float('inf')}",
    "a huge int": "{'beta': 10**100}",
    "a long string": "{'note': 'x' * 1000}",
    "a string with an escape": "{'note': '\\x1b[31mred'}",
    "an object": "{'beta': object()}",
}


@pytest.mark.parametrize("returned", PARAMS_CASES.values(), ids=PARAMS_CASES.keys())
def test_params_garbage_is_an_interface_rejection(
    returned: str, tmp_path: Path, small_ref: DataRef
) -> None:
    path = tmp_path / "params.py"
    path.write_text(
        "from autotts import Controller\n\n\nclass P(Controller):\n"
        "    def __init__(self, beta=0.5):\n        self.beta = beta\n\n"
        f"    def params(self):\n        return {returned}\n\n"
        "    def solve(self, session):\n        return None\n"
    )
    with pytest.raises(CandidateRejected) as caught:
        run_in_sandbox(
            read_candidate(str(path)), load_data(small_ref), ReferenceProtocol(1), beta=0.5
        )
    assert caught.value.reason == "interface", caught.value.detail
    _assert_clean(caught.value)
    assert caught.value.detail.startswith("P.params() must return a dict of at most")


def test_plain_params_pass_and_scalar_subclasses_become_plain(
    tmp_path: Path, small_ref: DataRef
) -> None:
    path = tmp_path / "params.py"
    path.write_text(
        "import numpy as np\n\nfrom autotts import Controller\n\n\nclass P(Controller):\n"
        "    def __init__(self, beta=0.5):\n        self.beta = beta\n\n"
        "    def params(self):\n"
        "        return {'beta': np.float64(self.beta), 'k': 3, 'on': True, 'name': 'p q',"
        " 'none': None}\n\n"
        "    def solve(self, session):\n        return None\n"
    )
    run = run_in_sandbox(
        read_candidate(str(path)), load_data(small_ref), ReferenceProtocol(1), beta=0.5
    )
    assert run.params == {"beta": 0.5, "k": 3, "on": True, "name": "p q", "none": None}
    assert type(run.params["beta"]) is float


def test_a_tracer_of_odd_values_is_not_rejected(tmp_path: Path, small_ref: DataRef) -> None:
    """An honest controller may trace NaN, objects, deep or long values: the worker writes
    them as the parent accepts them (strings, cut), so the trace reaches its file."""
    path = tmp_path / "tracer.py"
    path.write_text(
        "from autotts import Controller\n\n\nclass T(Controller):\n"
        "    def __init__(self, beta=0.5):\n        self.beta = beta\n\n"
        "    def solve(self, session):\n"
        "        session.trace('look', input={'x': float('nan'), 'o': object()},\n"
        "                      output=[[[[[[[[1]]]]]]]], state=10**40, decision='y' * 20000)\n"
        "        session.trace(None, goal=5)\n"
        "        answer, _, _ = session.probe_new()\n        return answer\n"
    )
    records: list[EpisodeRecord] = []
    run_in_sandbox(
        read_candidate(str(path)),
        load_data(small_ref),
        ReferenceProtocol(1),
        beta=0.5,
        trace_sink=lambda _r, _q, record: records.append(record),
    )
    look = records[0].trace[0]
    assert look["event"] == "look"
    assert look["input"]["x"] == "nan" and look["input"]["o"].startswith("<object object")
    assert look["state"] == str(10**40)
    assert len(look["decision"]) == 10_000
    assert (records[0].trace[1]["event"], records[0].trace[1]["goal"]) == ("", "5")
    json.dumps([r.trace for r in records], allow_nan=False).encode("utf-8")  # writable as is


# -- the protocol's parts -------------------------------------------------------------


@pytest.mark.parametrize(
    "line",
    [
        b"[" * 100_000,
        b'{"a":' * 100_000,
        b'{"c":NaN}',
        b'{"c":-Infinity}',
        b'{"c":1' + b"0" * 5000 + b"}",
        b'{"a":"\\udc00"}',
        b'{"a":"\xed\xb0\x80"}',
        b"\xfe\xff\x00{",
        b"[1]",
        b"",
        b'{"a":1} {"b":2}',
    ],
)
def test_parse_line_refuses_without_raising_anything_else(line: bytes) -> None:
    with pytest.raises(ProtocolError):
        parse_line(line)


def test_parse_line_keeps_escaped_text_that_only_looks_like_a_surrogate() -> None:
    assert parse_line(b'{"a":"\\\\ud800 \\u00e9"}') == {"a": "\\ud800 é"}


def test_quote_makes_one_printable_quoted_line() -> None:
    text = "\x1b[2K\rok\x1b]0;title\x07 \u202eevil\u200b\nnext\tline ' \" \ud800"
    assert quote(text) == "'ok evil next line \\' \"'"
    assert quote("x" * 1000) == repr("x" * 299 + "…")
    assert quote(12) == "'12'"


def test_check_params() -> None:
    assert check_params({"beta": 0.5, "k": 1, "on": False, "s": "a b", "n": None}) is None
    assert check_params([]) == "it returned list, not a dict"
    assert check_params({"a b": 1}) == "a key is not a short identifier"
    assert check_params({"k": -float("inf")}) is not None
    assert check_params({"k": "\n"}) is not None


def test_every_failure_the_worker_reports_has_the_evaluators_words() -> None:
    """The worker reports only ``what`` codes the parent words (no prose of its own)."""
    import ast

    import autotts.sandbox.worker as worker
    import autotts.sandbox.worker_candidate as worker_candidate

    used = set()
    for module in (worker, worker_candidate):
        tree = ast.parse(Path(module.__file__ or "").read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "Failure":
                reason, what = node.args[0], node.args[1]
                if isinstance(what, ast.Name):  # classify's own, checked below
                    continue
                assert isinstance(reason, ast.Constant) and isinstance(what, ast.Constant)
                assert reason.value in FAILURES[what.value][0]
                used.add(what.value)
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "classify":
                what = node.args[1]
                assert isinstance(what, ast.Constant) and what.value in FAILURES
                used.add(what.value)
    assert used == set(FAILURES)
    for what, reason in worker_candidate._STAGE_REASONS.items():
        assert {reason, "memory", "forbidden"} == FAILURES[what][0]


def test_a_rejection_carries_its_episode_and_partial_through_pickle() -> None:
    partial = PartialEpisode([-1, 0], [{"event": "read"}])
    rejection = CandidateRejected("crash", "boom", 3, partial)
    copy = pickle.loads(pickle.dumps(rejection))
    assert (copy.reason, copy.detail, copy.episode, copy.partial) == ("crash", "boom", 3, partial)
    assert str(copy) == "controller rejected (crash): boom"
    with pytest.raises(ValueError, match="unknown rejection reason"):
        CandidateRejected("accepted", "")


# -- discover --resume ----------------------------------------------------------------

#: The deep-brackets file, slowed at load so that a kill lands in its round.
SLOW_LOAD = "import time\n\n_t = time.monotonic()\nwhile time.monotonic() - _t < 1.5:\n    pass\n"


@pytest.mark.slow  # two discovery runs: about 40 s
def test_discover_resumes_over_a_round_that_met_a_hostile_pipe(tmp_path: Path) -> None:
    """A round whose candidate wrote deep brackets is rejected (``cheating``); a run killed
    in that round resumes, reruns it, rejects it again cleanly and goes on."""
    candidates, out = tmp_path / "candidates", tmp_path / "run"
    candidates.mkdir()
    hostile = (HOSTILE / "deep_brackets.py").read_text()
    (candidates / "01_deep_brackets.py").write_text(SLOW_LOAD + hostile)
    examples = Path(FIRST_AGREEMENT).parent / "candidates"
    (candidates / "02_first_votes.py").write_text((examples / "01_first_votes.py").read_text())
    command = [
        sys.executable, "-m", "autotts.cli.main", "discover", "--out", str(out),
        "--data", "synthetic", "--candidates", str(candidates), "--betas", "0,1",
        "--seeds", "2", "--heldout-seeds", "2", "--quiet",
    ]  # fmt: skip
    process = subprocess.Popen(command, stderr=subprocess.PIPE, text=True)
    started = out / "rounds" / ".tmp-0001" / "candidate.py"  # rounds count from 1
    end = time.monotonic() + 120
    while not started.exists():
        assert process.poll() is None, process.communicate()[1]
        assert time.monotonic() < end, "the hostile round never began"
        time.sleep(0.005)
    process.send_signal(signal.SIGKILL)
    process.communicate(timeout=30)
    assert not (out / "index.jsonl").exists() or not (out / "index.jsonl").read_text()

    resumed = subprocess.run([*command, "--resume"], capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr
    assert "Traceback" not in resumed.stderr
    index = [json.loads(x) for x in (out / "index.jsonl").read_text().splitlines()]
    assert [(e["round"], e["verdict"], e["reason"]) for e in index] == [
        (1, "rejected", "cheating"),
        (2, "accepted", None),
    ]
    check = json.loads((out / "rounds" / "0001" / "check.json").read_text())
    assert check["detail"] == "the worker sent a line that is not a plain JSON object"
    assert json.loads((out / "selection.json").read_text())["round"] == 2
