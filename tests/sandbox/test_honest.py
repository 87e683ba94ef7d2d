"""Honest controllers: identical numbers inside and outside the sandbox, accepted by check."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from autotts.checking import check_controller
from autotts.cli.main import main
from autotts.controllers.registry import REGISTRY, ControllerSpec, build
from autotts.errors import CandidateRejected, ControllerError
from autotts.evaluation.jobs import DataRef, EvalJob, evaluate, load_data
from autotts.evaluation.protocols import ReferenceProtocol
from autotts.evaluation.runner import EpisodeRecord, run_episodes
from autotts.evaluation.sandboxed import run_in_sandbox
from autotts.sandbox import SandboxLimits, SandboxWorker, available_layers, read_candidate
from tests.sandbox.conftest import CONTROLLERS, FIRST_AGREEMENT

BUILTIN_AS_FILE = """from autotts import Controller
from autotts.controllers.registry import REGISTRY


class Builtin(Controller):
    name = "builtin-{name}"

    def __init__(self, beta: float = 0.5) -> None:
        self.beta = beta
        self._inner = REGISTRY["{name}"].from_beta(beta)

    def solve(self, session):
        return self._inner.solve(session)
"""


def _metrics(spec: ControllerSpec, ref: DataRef, seeds: int = 3) -> dict[str, object]:
    return dataclasses.asdict(evaluate(EvalJob(ref, spec, ReferenceProtocol(seeds=seeds))).metrics)


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_builtin_written_as_a_file_gives_identical_numbers_in_the_sandbox(
    name: str, tmp_path: Path, small_ref: DataRef
) -> None:
    path = tmp_path / f"{name.replace('-', '_')}_file.py"
    path.write_text(BUILTIN_AS_FILE.format(name=name))
    for beta in (0.0, 0.5, 1.0):
        sandboxed = _metrics(ControllerSpec(f"{path}:Builtin", beta), small_ref)
        builtin = _metrics(ControllerSpec(name, beta), small_ref)  # vectorised, in process
        assert sandboxed == builtin, (name, beta)


@pytest.mark.parametrize("name", ["cmc", "parallel-probe", "sc"])
def test_builtin_written_as_a_file_is_accepted(
    name: str, tmp_path: Path, small_ref: DataRef
) -> None:
    path = tmp_path / "builtin.py"
    path.write_text(BUILTIN_AS_FILE.format(name=name))
    report = check_controller(str(path), [small_ref], betas=(0.0, 0.5, 1.0), seeds=2)
    assert report.verdict == "accepted", report.detail
    assert report.reason is None
    assert [c["name"] for c in report.checks] == [
        "load",
        "interface",
        "runs",
        "deterministic",
        "look-ahead",
        "monotone",
    ]
    curve = report.monotonicity[f"{small_ref.model}/{small_ref.benchmark}"]
    betas = [point["beta"] for point in curve]
    # The grid, and three random β drawn for this check between its ends.
    assert {0.0, 0.5, 1.0} <= set(betas) and len(betas) == 6 and betas == sorted(betas)
    assert curve[0]["tokens"] < curve[-1]["tokens"]
    audit = next(c for c in report.checks if c["name"] == "look-ahead")["measurements"]
    assert audit["counterfactual_episodes"] > 0
    assert len(audit["cells"]) == 6 and all(cell["audited"] for cell in audit["cells"])


def test_upstream_format_file_gives_its_native_twins_numbers(small_ref: DataRef) -> None:
    upstream = f"{CONTROLLERS / 'upstream_probe_vote.py'}:ProbeVote"
    native = f"{CONTROLLERS / 'native_probe_vote.py'}:NativeProbeVote"
    replay, protocol = load_data(small_ref), ReferenceProtocol(seeds=3)
    candidate = read_candidate(upstream)
    with SandboxWorker() as worker:
        assert worker.load(candidate.source, str(candidate.path), "ProbeVote")["kind"] == "upstream"
        for beta in (0.0, 0.6, 1.0):
            twin = run_episodes(build(ControllerSpec(native, beta, trusted=True)), replay, protocol)
            in_process = build(ControllerSpec(upstream, beta, trusted=True))
            for table in (
                run_in_sandbox(candidate, replay, protocol, beta=beta, worker=worker).table,
                run_episodes(in_process, replay, protocol),
            ):
                assert np.array_equal(table.correct, twin.correct), beta
                assert np.array_equal(table.cost, twin.cost), beta
                assert np.array_equal(table.sequential_cost, twin.sequential_cost), beta


def test_upstream_format_file_is_accepted_by_check(small_ref: DataRef) -> None:
    # Its β widens and lengthens the vote but also loosens the entropy stop, so its tokens
    # are not monotone at every β on six questions (at a random β near 0 they fell 30 %):
    # monotonicity is not checked here, the point is the upstream format.
    report = check_controller(
        str(CONTROLLERS / "upstream_probe_vote.py"),
        [small_ref],
        betas=(0.0, 1.0),
        seeds=2,
        tolerance=1.0,
    )
    assert report.verdict == "accepted", report.detail
    assert report.controller["kind"] == "upstream"


def test_traces_come_back_as_data_with_the_evaluators_accounts(small_ref: DataRef) -> None:
    records: list[EpisodeRecord] = []
    job = EvalJob(
        small_ref,
        ControllerSpec(f"{FIRST_AGREEMENT}:FirstAgreement", 0.5),
        ReferenceProtocol(seeds=1),
    )
    result = evaluate(job, trace_sink=lambda r, q, record: records.append(record))
    assert len(records) == len(load_data(small_ref))
    for record in records:
        assert record.trace[-1]["event"] == "finish"
        assert record.trace[-1]["output"]["tokens"] == record.cost
    mean = float(np.mean([r.cost for r in records]))
    assert result.metrics.tokens == pytest.approx(mean)


def test_a_sandboxed_failure_is_a_controller_error_with_a_reason(
    tmp_path: Path, small_ref: DataRef
) -> None:
    path = tmp_path / "boom.py"
    path.write_text(
        "from autotts import Controller\n\nclass Boom(Controller):\n"
        "    def __init__(self, beta=0.5):\n        self.beta = beta\n"
        "    def solve(self, session):\n        raise RuntimeError('boom')\n"
    )
    with pytest.raises(CandidateRejected) as caught:
        evaluate(EvalJob(small_ref, ControllerSpec(f"{path}:Boom", 0.5), ReferenceProtocol(1)))
    assert isinstance(caught.value, ControllerError)
    assert caught.value.reason == "crash"
    assert "crashed on question 0 (replicate 0): RuntimeError at " in str(caught.value)
    # The controller's own text is shown only quoted, after the evaluator's words.
    assert str(caught.value).endswith("boom.py:7; the controller's message: 'boom'")


@pytest.mark.filterwarnings("ignore:the sandbox layer .* is turned off")
def test_layers_active_here_and_degraded_mode_still_evaluates(small_ref: DataRef) -> None:
    full = available_layers(SandboxLimits())
    assert {"rlimits", "process-group-timer"} <= set(full)
    with pytest.warns(RuntimeWarning, match="is turned off"):
        bare = SandboxLimits(use_bubblewrap=False, use_seccomp=False)
        available_layers(bare)
    if "landlock" not in full:
        pytest.skip("without bubblewrap a worker needs Landlock, missing here")
    with SandboxWorker(bare) as worker:
        layers = ["landlock", "unprivileged", "no-new-privs", "rlimits", "process-group-timer"]
        assert worker.layers == layers
        reply = worker.load(FIRST_AGREEMENT.read_text(), str(FIRST_AGREEMENT), None)
        assert reply["class"] == "FirstAgreement"


@pytest.mark.parametrize("interpreter", ["cpython", "pypy"])
def test_the_worker_process_runs_under_its_rlimits_and_environment(interpreter: str) -> None:
    """The worker sets its rlimits itself before it serves (not the parent between fork
    and exec), and its environment is exactly the one autotts gives it (PyPy's nursery
    size included): read back from /proc once it has answered, on either interpreter."""
    from autotts.sandbox.interpreter import PYPY_GC_NURSERY, pypy_path
    from autotts.sandbox.layers import worker_environment
    from tests.sandbox.conftest import own_descendants

    if interpreter == "pypy" and pypy_path() is None:
        pytest.skip("pypy3 is not installed")
    limits = SandboxLimits(cpu_seconds=123, memory_mb=1536, interpreter=interpreter)
    with SandboxWorker(limits) as worker:
        worker.load(FIRST_AGREEMENT.read_text(), str(FIRST_AGREEMENT), None)
        servers = [
            pid
            for pid in own_descendants()
            if worker.tag in Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
            and "bwrap" not in Path(f"/proc/{pid}/comm").read_text()
        ]
        assert servers
        for pid in servers:
            table = Path(f"/proc/{pid}/limits").read_text()
            values = {line[:26].strip(): line[26:].split()[:2] for line in table.splitlines()}
            assert values["Max cpu time"] == ["123", "125"]
            assert values["Max address space"] == [str(1536 * 1024 * 1024)] * 2
            assert values["Max core file size"] == ["0", "0"]
            assert values["Max file size"] == [str(4 * 1024 * 1024)] * 2
            raw = Path(f"/proc/{pid}/environ").read_bytes().decode().split("\0")
            environment = dict(item.split("=", 1) for item in raw if item)
            environment.pop("PWD", None)  # bubblewrap sets it for its --chdir /tmp
            assert environment == worker_environment()
            assert environment["PYPY_GC_NURSERY"] == PYPY_GC_NURSERY == "16MB"


def test_audit_reads_the_executed_bytes_of_a_utf7_file(tmp_path: Path, small_ref: DataRef) -> None:
    # In UTF-7, "+AAo-" is a newline: read as UTF-8 the peek below is part of a comment.
    body = (
        "# coding: utf-7\n"
        "from autotts import Controller\n\n\n"
        "class Hidden(Controller):\n"
        "    def __init__(self, beta=0.5):\n"
        "        self.beta = beta\n\n"
        "    def solve(self, session):\n"
        "        answer = None  # harmless+AAo-        answer = session._table[0][-1][0]\n"
        "        return answer\n"
    )
    path = tmp_path / "hidden.py"
    path.write_bytes(body.encode("ascii"))
    report = check_controller(str(path), [small_ref], betas=(0.5,), seeds=1)
    assert report.reason == "cheating", report.detail
    assert any("'_table'" in line for line in report.advice)
    assert any("encoding" in line for line in report.advice)


def test_check_command_exit_codes_and_json(
    tmp_path: Path, small_store: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    common = ["--data", str(small_store), "-m", "Synth-Small", "-B", "aime24", "--seeds", "1"]
    assert main(["check", str(FIRST_AGREEMENT), *common, "--betas", "0,1", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert (report["verdict"], report["reason"]) == ("accepted", None)
    assert {"verdict", "reason", "detail", "checks", "monotonicity"} <= set(report)
    bad = tmp_path / "bad.py"
    bad.write_text((Path(__file__).parent / "hostile" / "bad_return.py").read_text())
    assert main(["check", f"{bad}:Hostile", *common, "--betas", "0,1"]) == 1
    out = capsys.readouterr().out
    assert out.startswith("REJECTED (bad-return): bad.py")
    assert main(["check", str(tmp_path / "missing.py"), *common]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_scratch_tmp_is_mounted_before_the_binds_it_could_hide() -> None:
    import shutil

    from autotts.sandbox.layers import worker_command

    if shutil.which("bwrap") is None:
        pytest.skip("bubblewrap is not installed")
    argv = worker_command(SandboxLimits(), "tag")
    tmpfs = argv.index("--tmpfs")
    binds = [i for i, arg in enumerate(argv) if arg == "--ro-bind"]
    # A venv or checkout under /tmp (CI clones often live there) must stay visible.
    assert binds and tmpfs < min(binds)
