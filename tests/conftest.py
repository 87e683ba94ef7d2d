"""Fixtures shared by the test packages."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: The public replay files live beside the repository, never inside it.
SHARED_REPLAY = (ROOT / ".." / "shared" / "data" / "replay").resolve()


@pytest.fixture(scope="session")
def shared_replay_dir() -> Path:
    """``../shared/data/replay``; the test is skipped when it is not there."""
    if not SHARED_REPLAY.is_dir():
        pytest.skip(f"needs the public replay files in {SHARED_REPLAY} (../shared/data/replay)")
    return SHARED_REPLAY
