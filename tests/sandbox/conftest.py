"""A small synthetic store on disk, and helpers to see that the host was left alone."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from autotts.data.synthetic import write_synthetic_store
from autotts.evaluation.jobs import DataRef

ROOT = Path(__file__).resolve().parents[2]
CONTROLLERS = Path(__file__).parent / "controllers"
FIRST_AGREEMENT = ROOT / "examples" / "first_agreement.py"


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    """A host TCP socket listening for a connection no sandboxed controller may make."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(4)
    server.setblocking(False)
    yield server
    server.close()


@pytest.fixture(scope="session")
def small_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Synthetic store with 6 questions × 24 branches per file (fast to replay)."""
    out = tmp_path_factory.mktemp("store")
    write_synthetic_store(out, questions=6, branches=24, seed=3)
    return out


@pytest.fixture(scope="session")
def small_ref(small_store: Path) -> DataRef:
    return DataRef(str(small_store), "Synth-Small", "aime24")


def _resource_tracker(entry: Path) -> bool:
    """The helper process Python's multiprocessing starts once per process that uses its
    "spawn" context (an earlier test in this worker may have); not a sandbox leftover."""
    try:
        return b"multiprocessing.resource_tracker" in (entry / "cmdline").read_bytes()
    except OSError:
        return False


def descendants(pid: int) -> set[int]:
    """Every live process below ``pid`` (from /proc)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if fields[0] != "Z" and not _resource_tracker(entry):  # zombies are dead already
            parents[int(entry.name)] = int(fields[1])
    found: set[int] = set()
    frontier = [pid]
    while frontier:
        parent = frontier.pop()
        children = [p for p, pp in parents.items() if pp == parent]
        found.update(children)
        frontier += children
    return found


def own_descendants() -> set[int]:
    """Processes below this one (its multiprocessing resource tracker excluded, see above)."""
    return descendants(os.getpid())
