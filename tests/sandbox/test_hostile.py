"""Hostile controller files: each rejected with its reason code, the host left unharmed.

Every file in ``hostile/`` names the reason it must be rejected with in its first
line (``# expect: REASON``), and in the second (``# needs: LAYER``) the isolation layer
that alone stops it, if any: without that layer the test is skipped, not passed.
Placeholders are filled in per test: ``@@TARGET@@`` a host folder the file tries to
write to, ``@@PORT@@`` a host TCP port listening for
a connection, ``@@DATA@@`` a replay file (with gold answers) on the host.
"""

from __future__ import annotations

import site
import socket
from pathlib import Path

import numpy as np
import pytest

import autotts
from autotts.checking import check_controller
from autotts.controllers.registry import ControllerSpec, build
from autotts.evaluation.jobs import DataRef, load_data
from autotts.evaluation.protocols import ReferenceProtocol
from autotts.evaluation.runner import run_episodes
from autotts.evaluation.sandboxed import run_in_sandbox
from autotts.sandbox import SandboxLimits, available_layers, read_candidate
from tests.sandbox.conftest import FIRST_AGREEMENT, own_descendants

HOSTILE = sorted((Path(__file__).parent / "hostile").glob("*.py"))
LIMITS = SandboxLimits(episode_seconds=2, total_seconds=120, memory_mb=1536)


def _persistent_files() -> set[Path]:
    """Files a hostile controller could plant to run code later."""
    folders = [Path(p) for p in site.getsitepackages()]
    folders.append(Path(autotts.__file__).parent / "__pycache__")
    return {f for folder in folders if folder.is_dir() for f in folder.iterdir()}


def test_every_reason_code_has_a_hostile_file() -> None:
    from autotts.errors import REJECTION_REASONS

    expected = {path.read_text().splitlines()[0].split(": ")[1] for path in HOSTILE}
    assert expected == set(REJECTION_REASONS)


@pytest.mark.parametrize("path", HOSTILE, ids=[p.stem for p in HOSTILE])
def test_hostile_controller_is_rejected_and_the_host_unharmed(
    path: Path, tmp_path: Path, small_ref: DataRef, listener: socket.socket
) -> None:
    lines = path.read_text().splitlines()
    expected = lines[0].removeprefix("# expect: ")
    needs = lines[1].removeprefix("# needs: ") if lines[1].startswith("# needs: ") else None
    if needs and needs not in available_layers(LIMITS):
        pytest.skip(f"only the {needs} layer stops this attack, and it is missing here")
    target = tmp_path / "host"
    target.mkdir()
    text = (
        path.read_text()
        .replace("@@TARGET@@", str(target))
        .replace("@@PORT@@", str(listener.getsockname()[1]))
        .replace("@@DATA@@", str(small_ref.path))
    )
    candidate = tmp_path / path.name
    candidate.write_text(text)
    planted_before = _persistent_files()

    report = check_controller(str(candidate), [small_ref], betas=(0.0, 1.0), seeds=1, limits=LIMITS)

    assert (report.verdict, report.reason) == ("rejected", expected), report.detail
    assert report.detail and report.checks[-1]["passed"] is False
    assert list(target.iterdir()) == []  # no file written on the host
    assert _persistent_files() == planted_before  # nothing planted for later
    assert own_descendants() == set()  # no process left behind
    with pytest.raises(BlockingIOError):
        listener.accept()  # no connection reached the host

    # The next candidate is evaluated normally, with the numbers it has in process.
    replay, protocol = load_data(small_ref), ReferenceProtocol(seeds=2)
    honest = run_in_sandbox(read_candidate(str(FIRST_AGREEMENT)), replay, protocol, beta=0.5)
    trusted = build(ControllerSpec(f"{FIRST_AGREEMENT}:FirstAgreement", 0.5, trusted=True))
    expected_table = run_episodes(trusted, replay, protocol)
    assert np.array_equal(honest.table.correct, expected_table.correct)
    assert np.array_equal(honest.table.cost, expected_table.cost)


def test_the_worker_inherits_no_secret_from_the_environment(
    tmp_path: Path, small_ref: DataRef, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AUTOTTS_TEST_SECRET", "hunter2")
    path = tmp_path / "env.py"
    path.write_text(
        "import os\n\nfrom autotts import Controller\n\n\nclass Env(Controller):\n"
        "    def __init__(self, beta=0.5):\n        self.beta = beta\n\n"
        "    def solve(self, session):\n"
        "        return os.environ.get('AUTOTTS_TEST_SECRET', 'none') + os.environ['HOME']\n"
    )
    run = run_in_sandbox(
        read_candidate(str(path)), load_data(small_ref), ReferenceProtocol(1), beta=0
    )
    # A string the controller made up is no answer label: marked so that it scores as wrong.
    assert {o.answer for o in run.outcomes} == {"<not a label: none/tmp>"}


@pytest.mark.filterwarnings("ignore:the sandbox layer .* is turned off")
@pytest.mark.parametrize(
    ("layer_off", "attacks"),
    [
        ("bubblewrap", ["write_file", "network", "os_system", "signal_parent"]),
        ("seccomp", ["write_file", "network", "site_packages_pth", "read_replay"]),
    ],
)
def test_each_layer_alone_still_stops_host_attacks(
    layer_off: str,
    attacks: list[str],
    tmp_path: Path,
    small_ref: DataRef,
    listener: socket.socket,
) -> None:
    limits = SandboxLimits(
        episode_seconds=2,
        use_bubblewrap=layer_off != "bubblewrap",
        use_seccomp=layer_off != "seccomp",
    )
    with pytest.warns(RuntimeWarning, match=f"{layer_off} is turned off"):
        available_layers(limits)
    if {"bubblewrap", "seccomp"} - {layer_off} - set(available_layers(limits)):
        pytest.skip("the remaining layer is not available here")
    target = tmp_path / "host"
    target.mkdir()
    planted_before = _persistent_files()
    for name in attacks:
        text = (
            (Path(__file__).parent / "hostile" / f"{name}.py")
            .read_text()
            .replace("@@TARGET@@", str(target))
            .replace("@@PORT@@", str(listener.getsockname()[1]))
            .replace("@@DATA@@", str(small_ref.path))
        )
        candidate = tmp_path / f"{name}.py"
        candidate.write_text(text)
        report = check_controller(str(candidate), [small_ref], betas=(0.0,), seeds=1, limits=limits)
        assert report.reason == "forbidden", (name, report.detail)
    assert list(target.iterdir()) == []
    assert _persistent_files() == planted_before
    assert own_descendants() == set()
    with pytest.raises(BlockingIOError):
        listener.accept()


def test_the_cpu_limit_stops_a_busy_loop_before_the_wall_clock(
    tmp_path: Path, small_ref: DataRef
) -> None:
    candidate = tmp_path / "hang.py"
    candidate.write_text((Path(__file__).parent / "hostile" / "hang.py").read_text())
    limits = SandboxLimits(episode_seconds=60, cpu_seconds=1)
    report = check_controller(str(candidate), [small_ref], betas=(0.0,), seeds=1, limits=limits)
    assert report.reason == "timeout"
    assert "CPU-time limit" in report.detail
    assert own_descendants() == set()


def test_sweep_never_imports_an_untrusted_file_in_process(
    tmp_path: Path, small_store: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from autotts.cli.main import main

    marker = tmp_path / "imported-in-the-evaluator"
    path = tmp_path / "toplevel.py"
    path.write_text(
        f"open({str(marker)!r}, 'w').close()\n\nfrom autotts import Controller\n\n\n"
        "class C(Controller):\n    def __init__(self, beta=0.5):\n        self.beta = beta\n\n"
        "    def solve(self, session):\n        return None\n"
    )
    args = ["sweep", "-c", f"{path}:C", "--data", str(small_store), "--betas", "0,1"]
    assert main([*args, "--seeds", "1", "-q"]) == 2
    assert "controller rejected (forbidden)" in capsys.readouterr().err
    assert not marker.exists()
