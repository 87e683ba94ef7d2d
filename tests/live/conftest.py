"""A replay-server process shared by the live tests of a module."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.controllers.random_replay import random_document
from tests.live.servers import autotts, free_port, running, write_store


@pytest.fixture(scope="module")
def random_upstream(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """``{"url", "document", "path"}``: a replay-server over adversarial random data."""
    root: Path = tmp_path_factory.mktemp("store")
    document = random_document(5, questions=4, branches=12)
    path = write_store(root, "R", "bench", document)
    port = free_port()
    with running(
        autotts("replay-server", "--data", str(root), "--model", "R", "--port", str(port)), port
    ) as base:
        yield {"url": f"{base}/v1", "document": document, "path": path}
