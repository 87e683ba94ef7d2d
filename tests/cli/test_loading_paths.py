"""Every path that loads a controller file runs it in the sandbox unless told to trust it.

Per path (the Python API, in-process loading, ``serve`` and the live runtime under it,
``ablate``, a file ``optimize --export`` wrote): a hostile file that writes a marker file
holding an environment canary leaves no marker and is rejected cleanly; with trust it
runs in this process (the marker appears, with the canary). Honest files answer through
a sandboxed ``serve`` exactly as in process on the replay data, episode by episode.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from autotts.controllers.registry import ControllerSpec, build, load_controller_class
from autotts.data.loading import load_replay
from autotts.discovery.optimizer.export import render_controller
from autotts.errors import CandidateRejected, ControllerError, StepLimitExceeded
from autotts.evaluation.protocols import ReferenceProtocol
from autotts.evaluation.runner import run_episodes
from autotts.sandbox.live_client import SandboxedController
from tests.controllers.random_replay import random_replay
from tests.discovery.optimizer.test_export_and_scoring import SCHEDULE
from tests.live.servers import autotts, free_port, running, write_store
from tests.live.test_collect_roundtrip import shortest_branches

ROOT = Path(__file__).resolve().parents[2]
CANARY = "AUTOTTS_LOADING_CANARY"
SECRET = "canary-7f3a"

#: Leaves ``MARKER`` holding the canary; called where the test's file puts the call.
HOSTILE_HELPER = """
import os

from autotts import Controller, Session


def leave_marker():
    with open({marker!r}, "w") as handle:
        handle.write(os.environ.get({canary!r}, "no canary"))
"""

HOSTILE_SOLVE = """

class Hostile(Controller):
    name = "hostile"

    def __init__(self, beta: float = 0.5) -> None:
        self.beta = beta

    def solve(self, session: Session) -> str | None:
        leave_marker()
        return session.full_read()
"""


def hostile_file(tmp_path: Path, body: str = HOSTILE_SOLVE, name: str = "hostile.py") -> Path:
    marker = tmp_path / "marker.txt"
    path = tmp_path / name
    path.write_text(HOSTILE_HELPER.format(marker=str(marker), canary=CANARY) + body)
    return path


@pytest.fixture(autouse=True)
def canary(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(CANARY, SECRET)


def marker_of(path: Path) -> Path:
    return path.parent / "marker.txt"


# -- the Python API and in-process loading ---------------------------------------------------
def test_build_runs_an_untrusted_file_in_the_sandbox(tmp_path: Path) -> None:
    path = hostile_file(tmp_path)
    controller = build(ControllerSpec(f"{path}:Hostile", 0.5))
    assert isinstance(controller, SandboxedController)
    replay = random_replay(1, questions=2, branches=4)
    with pytest.raises(ControllerError, match=r"controller rejected \((forbidden|crash)\)"):
        run_episodes(controller, replay, ReferenceProtocol(seeds=1))
    assert not marker_of(path).exists()
    trusted = build(ControllerSpec(f"{path}:Hostile", 0.5, trusted=True))
    run_episodes(trusted, replay, ReferenceProtocol(seeds=1))
    assert marker_of(path).read_text() == SECRET


def test_in_process_loading_refuses_untrusted_files_before_running_them(tmp_path: Path) -> None:
    path = hostile_file(tmp_path, "\nleave_marker()\n" + HOSTILE_SOLVE)
    with pytest.raises(ControllerError, match=r"not trusted.*trusted=True"):
        load_controller_class(f"{path}:Hostile")
    assert not marker_of(path).exists()
    # Built untrusted, the module-level write fails inside the worker: at build, cleanly.
    with pytest.raises(CandidateRejected, match=r"\((forbidden|crash|load)\)"):
        build(ControllerSpec(f"{path}:Hostile", 0.5))
    assert not marker_of(path).exists()
    assert load_controller_class(f"{path}:Hostile", trusted=True).__name__ == "Hostile"
    assert marker_of(path).read_text() == SECRET


def test_an_exported_file_loads_by_the_same_rule(tmp_path: Path) -> None:
    """A file ``optimize --export`` wrote may have been edited since: it is not trusted."""
    exported = render_controller(SCHEDULE, "opt-test", {"seed": 3})
    path = hostile_file(tmp_path, "\nleave_marker()\n", name="winner.py")
    path.write_text(path.read_text() + exported)
    with pytest.raises(CandidateRejected):
        build(ControllerSpec(f"{path}:OptTest", 0.5))
    assert not marker_of(path).exists()
    # The unedited export runs sandboxed, with the same numbers as in process.
    clean = tmp_path / "clean.py"
    clean.write_text(exported)
    replay = random_replay(5, questions=3, branches=16, alphabet=3)
    protocol = ReferenceProtocol(seeds=2)
    sandboxed = run_episodes(build(ControllerSpec(f"{clean}:OptTest", 0.5)), replay, protocol)
    trusted = build(ControllerSpec(f"{clean}:OptTest", 0.5, trusted=True))
    in_process = run_episodes(trusted, replay, protocol)
    assert (sandboxed.correct == in_process.correct).all()
    assert (sandboxed.cost == in_process.cost).all()


# -- what the parent checks of a forwarded session -------------------------------------------
def _file(tmp_path: Path, solve_body: str) -> str:
    path = tmp_path / "c.py"
    path.write_text(
        "from autotts import Controller\n\n\n"
        "class C(Controller):\n"
        "    def solve(self, session):\n" + solve_body
    )
    return f"{path}:C"


@pytest.mark.parametrize(
    ("body", "reason", "text"),
    [
        # Lines written past the session onto the protocol channel: not the session's calls.
        (
            '        session._out.write(b\'{"call": "reveal_gold"}\\n\')\n'
            "        session._out.flush()\n"
            "        return session.full_read()\n",
            "cheating",
            "unknown session call 'reveal_gold'",
        ),
        (
            '        session._out.write(b\'{"call": "probe_more", "branch": true}\\n\')\n'
            "        session._out.flush()\n"
            "        return session.full_read()\n",
            "cheating",
            "malformed probe_more call",
        ),
        (
            '        session._out.write(b\'{"call": "full_read", "x": \' + b\'[\' * 100000'
            " + b']' * 100000 + b'}\\n')\n"
            "        session._out.flush()\n"
            "        return session.full_read()\n",
            "cheating",
            "not a plain JSON object",
        ),
        ("        return 'x' * 5000\n", "bad-return", "5000 characters"),
        ("        return 7\n", "bad-return", "returned int"),
        ("        raise RuntimeError('boom')\n", "crash", "RuntimeError at .*'boom'"),
    ],
    ids=["unknown-call", "bool-branch", "deep-nesting", "long-answer", "not-a-str", "crash"],
)
def test_forwarded_sessions_are_checked(tmp_path: Path, body: str, reason: str, text: str) -> None:
    controller = build(ControllerSpec(_file(tmp_path, body)))
    replay = random_replay(1, questions=1, branches=4)
    with pytest.raises(ControllerError, match=rf"rejected \({reason}\).*{text}"):
        run_episodes(controller, replay, ReferenceProtocol(seeds=1))


def test_forwarded_sessions_keep_the_step_limit_and_the_refusals(tmp_path: Path) -> None:
    looping = "        a, i, f = session.probe_new()\n        while True:\n            session.probe_more(i)\n"  # noqa: E501
    replay = random_replay(1, questions=1, branches=4)
    with pytest.raises(ControllerError, match="50 session calls") as info:
        run_episodes(build(ControllerSpec(_file(tmp_path, looping))), replay,
                     ReferenceProtocol(seeds=1), max_steps=50)  # fmt: skip
    assert isinstance(info.value.__cause__, StepLimitExceeded)
    # Refused reads reach the controller as the same exceptions it gets in process.
    catching = (
        "        from autotts.errors import InvalidAction, NoMoreBranches\n"
        "        try:\n            session.probe_more(99)\n"
        "        except InvalidAction:\n            pass\n"
        "        answers = []\n"
        "        while True:\n"
        "            try:\n                answers.append(session.full_read())\n"
        "            except NoMoreBranches:\n                return answers[0]\n"
    )
    spec = _file(tmp_path, catching)
    sandboxed = run_episodes(build(ControllerSpec(spec)), replay, ReferenceProtocol(seeds=2))
    in_process = run_episodes(
        build(ControllerSpec(spec, trusted=True)), replay, ReferenceProtocol(seeds=2)
    )
    assert (sandboxed.cost == in_process.cost).all() and sandboxed.cost.min() > 0


# -- ablate ---------------------------------------------------------------------------------
HOSTILE_PARTS = """
from autotts.controllers.composable import Knobs, PartsController


class HostileParts(PartsController):
    def knobs_at(self, beta: float) -> Knobs:
        leave_marker()
        return Knobs()
"""


def _ablate(path: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    args = ["ablate", f"{path}:HostileParts", "--data", "synthetic", "--seeds", "1"]
    return subprocess.run(
        [sys.executable, "-m", "autotts.cli.main", *args, "--betas", "0,0.5,1", *extra],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip


def test_ablate_reads_an_untrusted_files_knobs_in_the_sandbox(tmp_path: Path) -> None:
    path = hostile_file(tmp_path, HOSTILE_PARTS)
    done = _ablate(path)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "controller rejected" in done.stderr
    assert not marker_of(path).exists()
    trusted = _ablate(path, "--trust")
    assert trusted.returncode == 0, trusted.stderr
    assert marker_of(path).read_text() == SECRET


def test_ablate_of_an_honest_file_is_the_same_sandboxed_and_trusted(tmp_path: Path) -> None:
    path = tmp_path / "winner.py"
    path.write_text(render_controller(SCHEDULE, "opt-test", {"seed": 3}))
    outputs = []
    for extra in ([], ["--trust"]):
        args = ["ablate", f"{path}:OptTest", "--data", "synthetic", "--seeds", "1"]
        done = subprocess.run(
            [sys.executable, "-m", "autotts.cli.main", *args, "--betas", "0,0.5,1", *extra],
            capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        outputs.append(done.stdout)
    assert outputs[0] == outputs[1] and "no widen" in outputs[0]


# -- serve and the live runtime ---------------------------------------------------------------
SEEDS = 2


@pytest.fixture(scope="module")
def upstream(
    tmp_path_factory: pytest.TempPathFactory, shared_replay_dir: Path
) -> Iterator[dict[str, Any]]:
    root = tmp_path_factory.mktemp("store")
    document = shortest_branches(shared_replay_dir / "Qwen3-4B" / "aime24.json", 3, 16)
    path = write_store(root, "M", "bench", document)
    port = free_port()
    command = autotts("replay-server", "--data", str(root), "--model", "M", "--port", str(port))
    with running(command, port) as base:
        yield {"url": f"{base}/v1", "document": document, "path": path}


def _serve(upstream: dict[str, Any], controller: str, port: int, *extra: str) -> list[str]:
    return autotts(
        "serve", "--upstream", upstream["url"], "--model", "M", "--controller", controller,
        "--pool", "16", "--port", str(port), *extra,
    )  # fmt: skip


def _ask(base: str, question: str, seed: int, beta: float = 0.5) -> httpx.Response:
    body = {
        "model": "M",
        "messages": [{"role": "user", "content": question}],
        "seed": seed,
        "beta": beta,
    }
    return httpx.post(f"{base}/v1/chat/completions", json=body, timeout=120)


def test_serve_runs_an_untrusted_file_in_the_sandbox(
    tmp_path: Path, upstream: dict[str, Any]
) -> None:
    path = hostile_file(tmp_path)
    question = upstream["document"][0]["question"]
    port = free_port()
    with running(_serve(upstream, f"{path}:Hostile", port), port) as base:
        for _ in range(2):  # the server outlives the controller's failures
            response = _ask(base, question, 0)
            assert response.status_code == 500
            message = response.json()["error"]["message"]
            assert message.startswith("controller: controller rejected (")
        assert httpx.get(f"{base}/health").json()["status"] == "ok"
    assert not marker_of(path).exists()
    port = free_port()
    with running(_serve(upstream, f"{path}:Hostile", port, "--trust"), port) as base:
        assert _ask(base, question, 0).status_code == 200
    assert marker_of(path).read_text() == SECRET


def test_serve_refuses_to_start_on_a_file_that_fails_to_load(
    tmp_path: Path, upstream: dict[str, Any]
) -> None:
    path = hostile_file(tmp_path, "\nleave_marker()\n" + HOSTILE_SOLVE)
    done = subprocess.run(
        _serve(upstream, f"{path}:Hostile", free_port()), capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "controller rejected" in done.stderr
    assert not marker_of(path).exists()


def test_serve_ends_a_controller_that_never_returns(
    tmp_path: Path, upstream: dict[str, Any]
) -> None:
    """A timed-out sandboxed controller is killed with its worker (in process, a thread
    would spin on); the next request gets a fresh worker."""
    path = tmp_path / "spin.py"
    path.write_text(
        "from autotts import Controller\n\n\nclass Spin(Controller):\n"
        "    def __init__(self, beta=0.5):\n        self.beta = beta\n\n"
        "    def solve(self, session):\n"
        "        if self.beta > 0.9:\n            while True:\n                pass\n"
        "        return session.full_read()\n"
    )
    question = upstream["document"][0]["question"]
    port = free_port()
    with running(_serve(upstream, f"{path}:Spin", port, "--timeout", "2"), port) as base:
        assert _ask(base, question, 0, beta=1.0).status_code == 504
        assert _ask(base, question, 0, beta=0.5).status_code == 200


HONEST = [
    (ROOT / "examples" / "first_agreement.py", "FirstAgreement"),
    (ROOT / "examples" / "cmc_file.py", "CMCFile"),
    (ROOT / "tests" / "sandbox" / "controllers" / "native_probe_vote.py", "NativeProbeVote"),
    (ROOT / "tests" / "sandbox" / "controllers" / "upstream_probe_vote.py", "ProbeVote"),
]


@pytest.mark.parametrize(("path", "cls"), HONEST, ids=[c for _, c in HONEST])
def test_honest_files_served_sandboxed_equal_their_replay_in_process(
    path: Path, cls: str, upstream: dict[str, Any]
) -> None:
    reference = f"{path}:{cls}"
    replay = load_replay(upstream["path"])
    table = run_episodes(
        build(ControllerSpec(reference, 0.3, trusted=True)), replay, ReferenceProtocol(seeds=SEEDS)
    )
    port = free_port()
    with running(_serve(upstream, reference, port), port) as base:
        for r in range(SEEDS):
            for q, item in enumerate(upstream["document"]):
                response = _ask(base, item["question"], r, beta=0.3)
                assert response.status_code == 200, response.text
                extra = response.json()["autotts"]
                assert replay.is_correct(q, extra["answer"]) == table.correct[r, q], (r, q)
                assert extra["tokens"] == table.cost[r, q], (r, q)
                assert extra["sequential_tokens"] == table.sequential_cost[r, q], (r, q)
