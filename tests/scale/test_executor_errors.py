"""Clear one-line errors for ``--executor ray`` without Ray, or with a cluster that is not there."""

from __future__ import annotations

import socket
import sys
import time

import pytest

from autotts.cli.main import main

SWEEP = ["sweep", "--data", "synthetic", "-c", "sc", "--betas", "0.5", "--seeds", "2", "-q"]


def one_error_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ") and "Traceback" not in err
    return lines[0]


def closed_port() -> int:
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = int(probe.getsockname()[1])
    probe.close()  # nothing listens there any more
    return port


def test_without_ray_installed_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` now raises ImportError
    for command in (SWEEP, ["table", "--data", "synthetic", "--seeds", "2", "-q"]):
        assert main([*command, "--executor", "ray"]) == 2
        assert "pip install 'autotts[ray]'" in one_error_line(capsys)


@pytest.mark.ray
def test_unreachable_address_fails_fast_with_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("ray")
    started = time.monotonic()
    address = f"127.0.0.1:{closed_port()}"
    assert main([*SWEEP, "--executor", "ray", "--address", address]) == 2
    line = one_error_line(capsys)
    assert f"cannot reach a Ray cluster at {address}" in line
    assert time.monotonic() - started < 20


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        (["--address", "127.0.0.1:6379"], "--address needs --executor ray"),
        (["--executor", "dask"], "unknown executor 'dask'"),
        (["--executor", "ray", "--address", "no-port"], "--address must be HOST:PORT or 'auto'"),
    ],
)
def test_bad_executor_options(
    extra: list[str], expected: str, capsys: pytest.CaptureFixture[str]
) -> None:
    if "ray" in extra:
        pytest.importorskip("ray")
    assert main([*SWEEP, *extra]) == 2
    assert expected in one_error_line(capsys)
