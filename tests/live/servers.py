"""Real server processes on loopback for the live tests."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def autotts(*args: str) -> list[str]:
    return [sys.executable, "-m", "autotts.cli.main", *args]


@contextmanager
def running(
    command: Sequence[str], port: int, *, ready_path: str = "/health", wait: float = 60.0
) -> Iterator[str]:
    """Start ``command``, wait until ``GET ready_path`` answers 200, yield the base URL;
    stop it with SIGINT (a clean shutdown) and check it exited."""
    log = Path(os.environ.get("TMPDIR", "/tmp")) / f"autotts-server-{port}.log"
    with log.open("w") as handle:
        process = subprocess.Popen(command, stdout=handle, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + wait
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"server exited early: {log.read_text()[-2000:]}")
            try:
                if httpx.get(base + ready_path, timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"server not ready after {wait}s: {log.read_text()[-2000:]}")
            time.sleep(0.1)
        yield base
    except BaseException:
        process.kill()
        process.wait()
        raise
    # A clean shutdown: SIGINT stops the server and it exits with status 0.
    process.send_signal(signal.SIGINT)
    try:
        code = process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        raise AssertionError(f"server did not stop on SIGINT: {log.read_text()[-2000:]}") from None
    assert code == 0, f"server exited with {code}: {log.read_text()[-2000:]}"


def write_store(root: Path, model: str, benchmark: str, document: list[dict[str, Any]]) -> Path:
    path = root / model / f"{benchmark}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document), encoding="utf-8")
    return path
