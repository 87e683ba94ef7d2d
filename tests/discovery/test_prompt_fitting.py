"""Fitting the prompt to a model's context window, and streaming the reply, through the
official openai client against a local server speaking the protocol (llama.cpp's
``/props`` and ``/tokenize`` included): nothing is patched."""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from autotts.discovery.baseline_records import BaselinesFile
from autotts.discovery.prompting import prompt_ladder, user_prompt
from autotts.discovery.proposers.base import ProposalContext
from autotts.discovery.proposers.llm import MIN_ANSWER_TOKENS, estimate_tokens
from autotts.discovery.proposers.openai_chat import OpenAIProposer
from autotts.errors import UsageError
from tests.conftest import ROOT
from tests.discovery.fake_llm import ScriptedLLMServer

GOOD = (ROOT / "examples" / "candidates" / "01_first_votes.py").read_text()
REPLY = f"Idea: a fixed vote.\n\n```python\n{GOOD}```\n"
AGG = [{"beta": b / 10, "accuracy": 50 + b, "tokens": 1000 * (b + 1)} for b in range(11)]


def _context(tmp_path: Path, rounds: int = 6, events: list[dict[str, Any]] | None = None) -> Any:
    """Round ``rounds + 1`` with ``rounds`` earlier rounds of real-sized code and digests."""
    history = [
        {
            "round": n,
            "name": f"round-{n}",
            "verdict": "accepted",
            "aggregate": AGG,
            "code": GOOD + f"# round {n}\n" * 200,
            "digest": "# Trace digest\n" + "a decision line\n" * 400,
            "check": {"detail": ""},
            "points": [],
            "summary": f"idea {n}",
        }
        for n in range(1, rounds + 1)
    ]
    baselines = BaselinesFile.from_dict(
        {
            "methods": {n: {"aggregate": AGG, "digest": "digest " * 350} for n in ("sc", "cmc")},
            "betas": [a["beta"] for a in AGG],
        }
    )
    return ProposalContext(
        rounds + 1,
        10,
        history,
        baselines,
        tmp_path,
        progress=events.append if events is not None else None,
    )


def _sent(server: ScriptedLLMServer) -> dict[str, Any]:
    chats = [body for path, _, body in server.requests if path.endswith("/chat/completions")]
    assert len(chats) == 1
    return chats[0]


def test_the_ladder_only_shrinks(tmp_path: Path) -> None:
    context = _context(tmp_path)
    sizes = [len(user_prompt(context, cut=cut)) for cut in prompt_ladder()]
    assert all(b <= a for a, b in itertools.pairwise(sizes))
    assert sizes[-1] < sizes[0] / 10
    smallest = user_prompt(context, cut=prompt_ladder()[-1])
    # The smallest prompt still says what to write and how.
    assert "## The file" in smallest and "## Rules of discovery" in smallest
    assert "## Your answer" in smallest and "class CMC" not in smallest


def test_window_and_tokens_from_llama_cpp_endpoints(tmp_path: Path) -> None:
    events: list[dict[str, Any]] = []
    with ScriptedLLMServer([{"reply": REPLY}], n_ctx=8192, tokenize=True) as server:
        proposer = OpenAIProposer("m", base_url=server.url + "/v1")
        proposal = proposer.propose(_context(tmp_path, events=events))
        sent = _sent(server)
        tokenized = server.tokenize_calls
    assert proposal.code == GOOD
    record = proposal.exchange
    assert record["context_window"] == 8192 and "/props" in record["context_window_source"]
    assert record["counted_by"] == "the server's tokenizer" and tokenized > 0
    # The server's count (one token per 4 characters here) plus the chat template's share.
    counted = record["prompt_tokens_counted"]
    system, prompt = (m["content"] for m in sent["messages"])
    assert counted == -(-len(system) // 4) + -(-len(prompt) // 4) + 48
    # The history went first: the prompt fits with a quarter of the window to answer,
    # and the answer may use all the rest.
    assert counted + 8192 // 4 <= 8192 and sent["max_tokens"] == 8192 - counted
    assert "history cut" in record["prompt_cut"] or "one line each" in record["prompt_cut"]
    assert "## The session" in prompt  # the guide stays whole while history can go
    assert sent["stream"] is True
    fitted = next(e for e in events if "prompt_tokens" in e)
    assert fitted["window"] == 8192 and fitted["max_tokens"] == sent["max_tokens"]
    done = [e for e in events if e.get("done")]
    assert done and done[-1]["tokens"] == -(-len(REPLY) // 4)  # one chunk a token


def test_a_window_given_by_flag_with_an_estimate(tmp_path: Path) -> None:
    with ScriptedLLMServer([{"reply": REPLY}]) as server:  # says nothing about itself
        proposer = OpenAIProposer(
            "m", base_url=server.url + "/v1", context_tokens=3000, max_tokens=1000
        )
        proposal = proposer.propose(_context(tmp_path))
        sent = _sent(server)
    record = proposal.exchange
    assert record["context_window_source"] == "--context-tokens"
    assert record["counted_by"] == "an estimate"
    system, prompt = (m["content"] for m in sent["messages"])
    assert record["prompt_tokens_counted"] == estimate_tokens(system) + estimate_tokens(prompt) + 48
    assert record["prompt_tokens_counted"] + min(1000, MIN_ANSWER_TOKENS) <= 3000
    # The answer gets what is left, at most --completion-tokens.
    assert sent["max_tokens"] == min(1000, 3000 - record["prompt_tokens_counted"])
    assert "no code of" in record["prompt_cut"]


def test_unknown_window_sends_the_whole_prompt(tmp_path: Path) -> None:
    with ScriptedLLMServer([{"reply": REPLY}]) as server:
        proposal = OpenAIProposer("m", base_url=server.url + "/v1").propose(_context(tmp_path))
        sent = _sent(server)
    assert proposal.exchange["context_window"] is None and sent["max_tokens"] == 16_000
    assert proposal.exchange["prompt_cut"] == ""
    assert "class ConfidenceMomentum" in sent["messages"][1]["content"]


def test_a_window_too_small_for_any_prompt_is_a_clear_error(tmp_path: Path) -> None:
    with ScriptedLLMServer([], n_ctx=1024, tokenize=True) as server:
        proposer = OpenAIProposer("m", base_url=server.url + "/v1")
        with pytest.raises(UsageError, match=r"context window \(1,024 tokens, from .*/props"):
            proposer.propose(_context(tmp_path))
        assert not [p for p, _, _ in server.requests if p.endswith("/chat/completions")]


def test_a_stalled_stream_is_abandoned_and_not_retried(tmp_path: Path) -> None:
    item = {"reply": REPLY, "stall_after": 3, "stall": 3.0}
    with ScriptedLLMServer([item, {"reply": REPLY}]) as server:
        proposer = OpenAIProposer("m", base_url=server.url + "/v1", stall_timeout=0.5)
        t0 = time.monotonic()
        proposal = proposer.propose(_context(tmp_path))
        waited = time.monotonic() - t0
        chats = [p for p, _, _ in server.requests if p.endswith("/chat/completions")]
    assert proposal.code is None and waited < 2.5
    assert proposal.error is not None and "no token for 0.5 s (3 tokens received" in proposal.error
    assert len(chats) == 1  # no retry queued behind the abandoned request
    assert proposal.exchange["attempts"][0]["abandoned"] is True


def test_the_time_limit_closes_the_connection(tmp_path: Path) -> None:
    """An endless reply is cut at the time limit and the server sees the client go: the
    signal llama.cpp and vLLM stop generating on."""
    with ScriptedLLMServer([{"endless": True, "delay": 0.02}]) as server:
        proposer = OpenAIProposer("m", base_url=server.url + "/v1", timeout=1.0)
        proposal = proposer.propose(_context(tmp_path))
        deadline = time.monotonic() + 5
        while not server.disconnects and time.monotonic() < deadline:
            time.sleep(0.05)
        disconnects = list(server.disconnects)
    assert proposal.error is not None and "no complete reply within 1 s" in proposal.error
    assert disconnects and disconnects[0] < 3.0


def test_terminal_says_why_each_round_failed(tmp_path: Path) -> None:
    """``autotts discover`` as a user runs it: the round numbers agree everywhere and
    each failed round's line carries the first line of its reason."""
    script = [
        {"reply": "I would rather not write code."},
        {"reply": REPLY, "stall_after": 2, "stall": 3.0},
    ]
    out = tmp_path / "run"
    with ScriptedLLMServer(script, n_ctx=16384, tokenize=True) as server:
        result = subprocess.run(
            [sys.executable, "-m", "autotts.cli.main", "discover", "--out", str(out),
             "--proposer", "openai", "--base-url", server.url + "/v1", "--llm-model", "m",
             "--data", "synthetic", "--models", "Synth-Small", "--betas", "0,1",
             "--seeds", "2", "--heldout-seeds", "2", "--rounds", "2",
             "--stall-timeout", "0.5", "--retries", "0"],
            capture_output=True, text=True, timeout=600, env={**os.environ, "NO_COLOR": "1"},
        )  # fmt: skip
    assert result.returncode == 0, result.stderr
    lines = result.stderr.splitlines()
    recorded = [line for line in lines if "· recorded" in line]
    assert len(recorded) == 2
    assert (
        "round 1/2" in recorded[0] and "round-1: failed (proposer: the reply has no" in recorded[0]
    )
    assert "round 2/2" in recorded[1] and "no token for 0.5 s" in recorded[1]
    assert any("prompt" in line and "16,384-token window" in line for line in lines)
    assert ".tmp-" not in result.stderr
    assert sorted(p.name for p in (out / "rounds").iterdir()) == ["0001", "0002"]


def test_ctrl_c_while_a_reply_streams_closes_the_connection(tmp_path: Path) -> None:
    """Ctrl-C in ``propose`` ends the run cleanly and the server sees the client go, so
    a local server does not keep generating for nobody."""
    with ScriptedLLMServer([{"endless": True, "delay": 0.05}]) as server:
        process = subprocess.Popen(
            [sys.executable, "-m", "autotts.cli.main", "discover", "--out", str(tmp_path / "run"),
             "--proposer", "openai", "--base-url", server.url + "/v1", "--llm-model", "m",
             "--data", "synthetic", "--models", "Synth-Small", "--betas", "0,1",
             "--seeds", "2", "--heldout-seeds", "2", "--rounds", "1"],
            stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        deadline = time.monotonic() + 300
        while not any(p.endswith("/chat/completions") for p, _, _ in server.requests):
            assert process.poll() is None and time.monotonic() < deadline
            time.sleep(0.1)
        time.sleep(2.0)  # a few pieces streamed
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=60)
        deadline = time.monotonic() + 5
        while not server.disconnects and time.monotonic() < deadline:
            time.sleep(0.05)
        disconnects = list(server.disconnects)
    assert process.returncode == 130, err
    assert "Traceback" not in err and "--resume" in err
    assert "receiving:" in err  # the terminal showed the reply arriving
    assert disconnects
