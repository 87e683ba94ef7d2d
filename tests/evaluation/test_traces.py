"""Traces explain themselves: env-recorded reads, controllers' decisions, gold after scoring."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from autotts import Controller, Session
from autotts.cli.main import main
from autotts.controllers.registry import REGISTRY, ControllerSpec, build
from autotts.env.fast_session import FastSession
from autotts.env.limits import StepLimitedSession
from autotts.env.tracing import TracingSession
from autotts.evaluation.protocols import ReferenceProtocol
from autotts.evaluation.runner import EpisodeRecord, run_episodes
from autotts.evaluation.sandboxed import run_in_sandbox
from autotts.evaluation.trace_files import TraceWriter
from autotts.sandbox import read_candidate
from tests.controllers.random_replay import random_document, random_replay
from tests.helpers import make_replay

BUILT_INS = sorted(REGISTRY)


def _records(controller: Controller, replay: Any, seeds: int = 3) -> list[EpisodeRecord]:
    records: list[EpisodeRecord] = []
    run_episodes(
        controller,
        replay,
        ReferenceProtocol(seeds=seeds),
        trace_sink=lambda r, q, record: records.append(record),
    )
    return records


def _reads(record: EpisodeRecord) -> list[dict[str, Any]]:
    return [step for step in record.trace if step["event"] == "read"]


class TwoReads(Controller):
    """Calls no ``session.trace`` at all: its reads must be recorded anyway."""

    name = "two-reads"

    def solve(self, session: Session) -> str | None:
        _, branch, _ = session.probe_new()
        session.probe_more(branch)
        session.probe_more(branch)
        return session.full_read()


def test_reads_are_recorded_exactly_without_the_controller_tracing() -> None:
    # branch 0: probes a, b then 1,400 tokens in all; branch 1: final answer c, 900 tokens
    replay = make_replay([[(["a", "b"], 1400, "x"), ([], 900, "c")]], gold=["c"])
    (record,) = _records(TwoReads(), replay, seeds=1)
    reads = _reads(record)
    # reference shuffle of seed 0 over 2 branches: Random(0).shuffle([0, 1]) -> [0, 1]
    assert reads == [
        {
            "event": "read",
            "goal": "",
            "input": {"branch": 0, "depth": 1, "full": False},
            "output": {"answer": "a", "finished": False},
            "state": {"charged": 500, "tokens": 500},
            "decision": "",
        },
        {
            "event": "read",
            "goal": "",
            "input": {"branch": 0, "depth": 2, "full": False},
            "output": {"answer": "b", "finished": False},
            "state": {"charged": 500, "tokens": 1000},
            "decision": "",
        },
        {
            "event": "read",
            "goal": "",
            "input": {"branch": 0, "depth": 3, "full": False},
            "output": {"answer": "x", "finished": True},
            "state": {"charged": 400, "tokens": 1400},
            "decision": "",
        },
        {
            "event": "read",
            "goal": "",
            "input": {"branch": 1, "depth": 1, "full": True},
            "output": {"answer": "c", "finished": True},
            "state": {"charged": 900, "tokens": 2300},
            "decision": "",
        },
    ]
    finish = record.trace[-1]
    assert finish["output"]["gold"] == "c" and finish["output"]["correct"] is True
    assert finish["output"]["tokens"] == record.cost == 2300


@pytest.mark.parametrize("name", BUILT_INS)
def test_recorded_reads_account_for_every_token(name: str) -> None:
    replay = random_replay(3, questions=4, branches=20)
    for record in _records(build(ControllerSpec(name, beta=0.4)), replay):
        reads = _reads(record)
        assert reads, "every built-in reads something"
        running = 0.0
        depth: dict[int, int] = {}
        for read in reads:
            running += read["state"]["charged"]
            assert read["state"]["tokens"] == running
            branch = read["input"]["branch"]
            depth[branch] = depth.get(branch, 0) + 1
            assert read["input"]["depth"] == depth[branch]
            if read["input"]["full"]:
                assert read["output"]["finished"] is True and depth[branch] == 1
        assert running == record.cost
        finish = record.trace[-1]
        assert finish["event"] == "finish"
        assert finish["output"]["gold"] == replay.gold[record.question]
        assert finish["output"]["correct"] is record.correct
        assert record.correct == (record.answer == replay.gold[record.question])


@pytest.mark.parametrize("name", BUILT_INS)
def test_built_ins_say_why_they_stopped_with_values(name: str) -> None:
    replay = random_replay(8, questions=4, branches=24)
    for record in _records(build(ControllerSpec(name, beta=0.5)), replay):
        finish = record.trace[-1]
        assert finish["output"]["stop_reason"], finish
        decision = finish["decision"]
        assert decision.startswith(f"answer {record.answer!r}" if record.answer else "answer none")
        assert re.search(r"\d", decision), decision  # the values it decided on
        checks = [s for s in record.trace if s["event"] not in {"read", "start", "finish"}]
        for step in checks:
            assert step["decision"], step
        verdicts = [s["decision"] for s in checks if s["decision"].startswith(("stop", "cont"))]
        # whatever says "stop" is the last verdict of the episode
        assert all(v.startswith("continue") for v in verdicts[:-1])


def test_cmc_stop_decision_quotes_the_gate_values() -> None:
    replay = random_replay(5, questions=6, branches=40, alphabet=2)
    controller = build(ControllerSpec("cmc", beta=0.5))
    settings = controller.params()
    confident = [
        r
        for r in _records(controller, replay)
        if r.trace[-1]["output"]["stop_reason"] == "confident"
    ]
    assert confident
    for record in confident:
        last_check = [s for s in record.trace if s["event"] == "terminate_check"][-1]
        ema = last_check["output"]["ema"]
        assert ema >= settings["conf_thresh"]
        assert last_check["decision"].startswith(
            f"stop: EMA {ema:.3f} >= {settings['conf_thresh']}"
        )
        assert f"EMA confidence {ema:.3f}" in record.trace[-1]["decision"]


@pytest.mark.parametrize("name", ["cmc", "parallel-probe"])
def test_prune_decisions_name_the_dropped_branches(name: str) -> None:
    spec = (
        ControllerSpec(name, beta=0.5)
        if name == "cmc"
        else ControllerSpec(name, params={"warm_up": 2, "prune_patience": 2})
    )
    controller = build(spec)
    prunes = [
        step
        for record in _records(controller, random_replay(11, questions=6, branches=30), seeds=4)
        for step in record.trace
        if step["event"] == "prune"
    ]
    assert prunes
    for step in prunes:
        listed = ", ".join(map(str, step["output"]["branches"]))
        assert step["decision"].startswith(f"{'abandon' if name == 'cmc' else 'prune'} {listed}:")


def test_untraced_runs_do_not_record_reads() -> None:
    seen: list[type] = []

    class Spy(TwoReads):
        def solve(self, session: Session) -> str | None:
            seen.append(type(session))
            return super().solve(session)

    replay = make_replay([[(["a"], 600, "x"), ([], 900, "c")]])
    run_episodes(Spy(), replay, ReferenceProtocol(seeds=1))
    run_episodes(Spy(), replay, ReferenceProtocol(seeds=1), fast=False)
    _records(Spy(), replay, seeds=1)
    # Untraced: the lean session (or the step-limited one when asked); traced: the
    # recording one on top of the step-limited one.
    assert seen == [FastSession, StepLimitedSession, TracingSession]


def _write(only: str, sample: int | None, seeds: int = 6) -> tuple[list[dict[str, Any]], Any]:
    replay = random_replay(2, questions=5, branches=16)
    handle = io.StringIO()
    writer = TraceWriter(handle, {"model": "m"}, only=only, sample=sample, seed=0)
    table = run_episodes(
        build(ControllerSpec("cmc", beta=0.2)),
        replay,
        ReferenceProtocol(seeds=seeds),
        trace_sink=writer,
    )
    assert writer.close() == len(handle.getvalue().splitlines())
    return [json.loads(line) for line in handle.getvalue().splitlines()], table


def test_trace_writer_keeps_only_wrong_episodes() -> None:
    lines, table = _write("wrong", None)
    wrong = {(int(r), int(q)) for r, q in zip(*np.nonzero(~table.correct))}
    assert 0 < len(wrong) < table.correct.size
    assert {(line["replicate"], line["question_index"]) for line in lines} == wrong
    assert all(line["model"] == "m" and line["is_correct"] is False for line in lines)
    correct, _ = _write("correct", None)
    assert len(correct) + len(lines) == table.correct.size


def test_trace_writer_sample_is_seeded_sorted_and_a_subset() -> None:
    everything, _ = _write("all", None)
    first, _ = _write("all", 7)
    again, _ = _write("all", 7)
    assert first == again and len(first) == 7
    keys = [(line["replicate"], line["question_index"]) for line in first]
    assert keys == sorted(keys) and len(set(keys)) == 7
    assert all(line in everything for line in first)
    wrong_sample, _ = _write("wrong", 3)
    assert len(wrong_sample) == 3 and not any(line["is_correct"] for line in wrong_sample)
    assert len(_write("all", 10_000)[0]) == len(everything)


@pytest.fixture()
def store(tmp_path: Path) -> Path:
    path = tmp_path / "store" / "Tiny" / "aime24.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(random_document(4, questions=4, branches=20)))
    return tmp_path / "store"


def test_eval_traces_options(
    store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    traces = tmp_path / "t.jsonl"
    args = ["eval", "--data", str(store), "-c", "cmc", "--beta", "0.3", "--seeds", "5"]
    assert (
        main([*args, "--traces", str(traces), "--traces-only", "wrong", "--traces-sample", "2"])
        == 0
    )
    lines = [json.loads(line) for line in traces.read_text().splitlines()]
    assert len(lines) == 2 and not any(line["is_correct"] for line in lines)
    assert "wrote 2 episode traces" in capsys.readouterr().err
    assert main([*args, "--traces-only", "wrong"]) == 2
    assert "need --traces" in capsys.readouterr().err
    assert main([*args, "--traces", str(traces), "--traces-only", "right"]) == 2
    assert "--traces-only must be one of all, wrong, correct" in capsys.readouterr().err


OWN_READ_STEP = '''from autotts import Controller, Session


class NamesItsStepRead(Controller):
    """Logs its own step named "read", as LLM-written files do."""

    name = "own-read-step"

    def __init__(self, beta: float = 0.5) -> None:
        self.beta = beta

    def solve(self, session: Session) -> str | None:
        answer, branch, _ = session.probe_new()
        if session.tracing:
            session.trace("read", input={"branch": branch}, output=answer, decision="look")
        return answer
'''


def test_a_controller_step_named_read_is_kept_apart_from_the_session_reads(
    tmp_path: Path,
) -> None:
    # A sandboxed worker's "read" steps must have the session's exact shape (a forged one
    # is refused): the controller's own "read" is recorded under another name, so a
    # traced run of such a file is neither rejected nor misread as an extra read.
    path = tmp_path / "own_read.py"
    path.write_text(OWN_READ_STEP)
    replay = random_replay(3, questions=3)
    records: list[EpisodeRecord] = []
    run_in_sandbox(
        read_candidate(str(path)),
        replay,
        ReferenceProtocol(seeds=2),
        beta=0.5,
        trace_sink=lambda r, q, record: records.append(record),
    )
    assert len(records) == 6
    for record in records:
        assert [s["event"] for s in record.trace][:2] == ["read", "controller read"]
        assert record.trace[1]["decision"] == "look"
