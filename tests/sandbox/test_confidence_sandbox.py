"""Probe confidences through the sandbox: the same numbers as in process (CPython and PyPy
workers, lean and general sessions, forwarded sessions), shadows that carry each borrowed
probe's own confidence, and an audit that catches a controller reading one it did not pay for."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from autotts.checking import check_controller
from autotts.controllers.registry import ControllerSpec, build
from autotts.data.loading import parse_replay
from autotts.data.synthetic import (
    synthesize_questions,
    synthetic_documents,
    write_synthetic_store,
)
from autotts.env.episode import Episode
from autotts.env.limits import StepLimitedSession
from autotts.evaluation.jobs import DataRef, load_data
from autotts.evaluation.protocols import ReferenceProtocol
from autotts.evaluation.runner import run_episodes
from autotts.evaluation.sandboxed import SandboxRun, run_in_sandbox
from autotts.sandbox import SandboxLimits, read_candidate
from autotts.sandbox.interpreter import pypy_path
from autotts.sandbox.shadow import Revealed, shadow_replay

HERE = Path(__file__).parent
CONFIDENT = str(HERE / "confident_stop.py")
PEEKER = str(HERE / "confidence_peeker.py")
WRAPPED_BUILTIN = """from autotts import Controller
from autotts.controllers.parallel_probe import ParallelProbe


class WeightedProbe(Controller):
    name = "weighted-probe"

    def __init__(self, beta: float = 0.5) -> None:
        self.beta = beta
        self._inner = ParallelProbe(
            num_chains=4 + round(12 * beta), T=5, prune_patience=3, warm_up=2,
            confidence_weighted=True,
        )

    def solve(self, session):
        return self._inner.solve(session)
"""


@pytest.fixture(scope="module")
def confidence_ref(tmp_path_factory: pytest.TempPathFactory) -> DataRef:
    """A small synthetic store whose probes carry confidences."""
    out = tmp_path_factory.mktemp("conf-store")
    write_synthetic_store(out, questions=6, branches=24, seed=3, confidence=True)
    return DataRef(str(out), "Synth-Small", "aime24")


def same(a: SandboxRun, b: SandboxRun) -> None:
    assert np.array_equal(a.table.correct, b.table.correct)
    assert np.array_equal(a.table.cost, b.table.cost)
    assert np.array_equal(a.table.sequential_cost, b.table.sequential_cost)
    assert [o.answer for o in a.outcomes] == [o.answer for o in b.outcomes]


def in_process(path: str, replay, protocol, beta: float, **kwargs):  # type: ignore[no-untyped-def]
    controller = build(ControllerSpec(path, beta=beta, trusted=True))
    return run_episodes(controller, replay, protocol, **kwargs)


@pytest.mark.parametrize("fast", [True, False])
def test_sandboxed_equals_in_process_on_data_with_confidences(
    fast: bool, confidence_ref: DataRef, tmp_path: Path
) -> None:
    wrapped = tmp_path / "weighted_probe.py"
    wrapped.write_text(WRAPPED_BUILTIN)
    replay, protocol = load_data(confidence_ref), ReferenceProtocol(3)
    assert replay.has_confidence
    for path in (CONFIDENT, str(wrapped)):
        for beta in (0.0, 0.5, 1.0):
            sandboxed = run_in_sandbox(read_candidate(path), replay, protocol, beta=beta, fast=fast)
            local = in_process(path, replay, protocol, beta)
            assert np.array_equal(sandboxed.table.correct, local.correct), (path, beta)
            assert np.array_equal(sandboxed.table.cost, local.cost), (path, beta)
            assert np.array_equal(sandboxed.table.sequential_cost, local.sequential_cost)


def test_the_confidences_decide_something(confidence_ref: DataRef) -> None:
    # Without them (the same trajectories), the controller plays differently: the equality
    # above is about values the worker really used.
    replay, protocol = load_data(confidence_ref), ReferenceProtocol(3)
    (document,) = [
        doc
        for model, benchmark, doc in synthetic_documents(questions=6, branches=24, seed=3)
        if (model, benchmark) == (confidence_ref.model, confidence_ref.benchmark)
    ]
    stripped = parse_replay(document, source="stripped")
    assert not stripped.has_confidence
    assert [q.answer_strings for q in stripped.questions] == [
        q.answer_strings for q in replay.questions
    ]
    with_conf = in_process(CONFIDENT, replay, protocol, 0.5)
    without = in_process(CONFIDENT, stripped, protocol, 0.5)
    assert not np.array_equal(with_conf.cost, without.cost)


def test_traced_sandbox_runs_record_confidences(confidence_ref: DataRef) -> None:
    replay, protocol = load_data(confidence_ref), ReferenceProtocol(1)
    records: list[object] = []
    run_in_sandbox(
        read_candidate(CONFIDENT),
        replay,
        protocol,
        beta=0.5,
        trace_sink=lambda r, q, record: records.append(record),
    )
    reads = [s for rec in records for s in rec.trace if s["event"] == "read"]  # type: ignore[attr-defined]
    assert reads and all("confidence" in s["output"] for s in reads if not s["output"]["finished"])


@pytest.mark.skipif(pypy_path() is None, reason="pypy3 is not installed")
def test_the_pypy_worker_gives_the_same_numbers(confidence_ref: DataRef) -> None:
    replay, protocol = load_data(confidence_ref), ReferenceProtocol(3)
    candidate = read_candidate(CONFIDENT)
    for beta in (0.0, 1.0):
        on_cpython = run_in_sandbox(candidate, replay, protocol, beta=beta)
        on_pypy = run_in_sandbox(
            candidate, replay, protocol, beta=beta, limits=SandboxLimits(interpreter="pypy")
        )
        same(on_pypy, on_cpython)


def test_a_forwarded_session_carries_confidences(confidence_ref: DataRef) -> None:
    # An untrusted file over a session held by this process (as `serve` runs one): each
    # read's reply brings its confidence along.
    replay = load_data(confidence_ref)
    sandboxed = build(ControllerSpec(CONFIDENT, beta=0.5))
    local = build(ControllerSpec(CONFIDENT, beta=0.5, trusted=True))
    try:
        for q, question in enumerate(replay.questions[:4]):
            order = list(np.random.default_rng(q).permutation(question.n_branches))
            a, b = Episode(question, order), Episode(question, order)
            got = sandboxed.solve(StepLimitedSession(a))
            want = local.solve(StepLimitedSession(b))
            assert (got, a.cost, a.depth) == (want, b.cost, b.depth)
    finally:
        sandboxed.close()  # type: ignore[attr-defined]


def test_a_shadow_keeps_read_confidences_and_borrows_the_rest_with_their_probes() -> None:
    # Confidences that name their probe: -(question·10⁴ + branch·10² + probe)/10⁶.
    doc = synthesize_questions(questions=5, branches=12, seed=9)
    for q, item in enumerate(doc):
        item["probe_logprobs"] = [
            [-(q * 10_000 + b * 100 + k) / 1e6 for k in range(len(probes))]
            for b, (probes, _, _) in enumerate(item["each_branch"])
        ]
    replay = parse_replay(doc, source="named")
    origin = {}
    for q, question in enumerate(replay.questions):
        assert question.confidence_lists is not None
        for b, row in enumerate(question.confidence_lists):
            for k, c in enumerate(row):
                origin[c] = (q, b, k)
    revealed = {  # as episodes reveal: never deeper than a branch's probes
        q: Revealed(
            depth={b: min(d, question.probe_count_list[b]) for b, d in ((0, 2), (1, 1), (3, 4))},
            finished={2},
        )
        for q, question in enumerate(replay.questions)
    }
    shadow = shadow_replay(replay, revealed, np.random.default_rng(0))
    for q, (real, fake) in enumerate(zip(replay.questions, shadow.questions)):
        real_conf, fake_conf = real.confidence_lists, fake.confidence_lists
        assert real_conf is not None and fake_conf is not None
        for b in range(real.n_branches):
            if b in revealed[q].finished:
                assert fake_conf[b] == real_conf[b]
                continue
            depth = revealed[q].depth.get(b, 0)
            assert fake_conf[b][:depth] == real_conf[b][:depth]  # what was read stays
            borrowed = [origin[c] for c in fake_conf[b][depth:]]
            # every later probe from one donor branch, each at its own probe index, and
            # the branch's length is that donor's: a probe brings its own confidence
            assert [k for _, _, k in borrowed] == list(range(depth, depth + len(borrowed)))
            donors = {(dq, db) for dq, db, _ in borrowed}
            assert len(donors) <= 1
            for dq, db in donors:
                assert fake.token_list[b] == replay.questions[dq].token_list[db]
                assert fake.probe_count_list[b] == replay.questions[dq].probe_count_list[db]


def test_a_shadow_of_data_without_confidences_has_none(small_ref: DataRef) -> None:
    replay = load_data(small_ref)
    revealed = {q: Revealed(depth={0: 1}) for q in range(len(replay))}
    shadow = shadow_replay(replay, revealed, np.random.default_rng(1))
    assert not shadow.has_confidence


def test_check_accepts_an_honest_confidence_controller(confidence_ref: DataRef) -> None:
    report = check_controller(CONFIDENT, [confidence_ref], betas=(0.0, 0.5, 1.0), seeds=2)
    assert report.verdict == "accepted", report.detail
    audit = next(c for c in report.checks if c["name"] == "look-ahead")["measurements"]
    assert audit["counterfactual_episodes"] > 0


def test_reading_an_unpaid_confidence_is_peeking(confidence_ref: DataRef) -> None:
    report = check_controller(PEEKER, [confidence_ref], betas=(0.0, 0.5, 1.0), seeds=2)
    assert (report.verdict, report.reason) == ("rejected", "peeking"), report.detail


def test_a_workers_read_step_may_carry_a_number_as_confidence_and_nothing_else() -> None:
    from autotts.sandbox.protocol import ProtocolError, check_trace

    def read(output: dict[str, object]) -> list[dict[str, object]]:
        return [
            {
                "event": "read",
                "goal": "",
                "input": {"branch": 0, "depth": 1, "full": False},
                "output": output,
                "state": {"charged": 500, "tokens": 500},
                "decision": "",
            }
        ]

    check_trace(read({"answer": "3", "finished": False}))
    check_trace(read({"answer": "3", "finished": False, "confidence": 0.25}))
    for bad in ("high", None, [0.5]):
        with pytest.raises(ProtocolError):
            check_trace(read({"answer": "3", "finished": False, "confidence": bad}))
    with pytest.raises(ProtocolError):
        check_trace(read({"answer": "3", "finished": False, "certainty": 0.25}))
