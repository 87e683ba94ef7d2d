"""The openai and anthropic proposers through their official clients against a local
server speaking their protocols; the agent proposer with a stand-in command."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

from autotts.discovery.api import DiscoveryRun, discover
from tests.conftest import ROOT
from tests.discovery.fake_llm import ScriptedLLMServer

GOOD = (ROOT / "examples" / "candidates" / "01_first_votes.py").read_text()
REPLY = f"Idea: a fixed vote, to start from.\n\n```python\n{GOOD}```\n"
SMALL = {"data": "synthetic", "models": ["Synth-Small"], "betas": [0.0, 1.0], "seeds": 2}
FAST = {"heldout_seeds": 2, "backoff": 0.01}


def _rounds(run: DiscoveryRun) -> list[tuple[str, Any]]:
    return [(e.verdict, e.reason) for e in run.rounds()]


def _proposal(run: DiscoveryRun, n: int) -> dict[str, Any]:
    value: dict[str, Any] = json.loads((run.path / f"rounds/{n:04d}/proposal.json").read_text())
    return value


def test_openai_proposer_retries_rate_limits_and_records_failed_rounds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEST_OPENAI_KEY", "sk-test-123")
    script = [
        {"status": 429, "retry_after": "0"},
        {"status": 500},
        {"reply": REPLY, "input_tokens": 2000, "output_tokens": 500},
        {"reply": "I would rather not write code.", "input_tokens": 10, "output_tokens": 5},
        {"status": 400},
    ]
    with ScriptedLLMServer(script) as server:
        run = discover(
            tmp_path / "run", proposer="openai", model="test-model",
            base_url=server.url + "/v1", api_key_env="TEST_OPENAI_KEY",
            price_in=3.0, price_out=15.0, rounds=3, **SMALL, **FAST,
        )  # fmt: skip
        requests = server.requests
    assert _rounds(run) == [("accepted", None), ("failed", "proposer"), ("failed", "proposer")]
    first = _proposal(run, 1)
    assert [a["ok"] for a in first["attempts"]] == [False, False, True]
    assert "429" in first["attempts"][0]["error"] and "500" in first["attempts"][1]["error"]
    assert (first["input_tokens"], first["output_tokens"]) == (2000, 500)
    assert first["money"] == pytest.approx((3.0 * 2000 + 15.0 * 500) / 1e6)
    assert first["summary"].startswith("Idea: a fixed vote")
    assert (run.path / "rounds/0001/candidate.py").read_text() == GOOD
    assert "no ```python block" in _proposal(run, 2)["error"]
    assert "400" in _proposal(run, 3)["error"]
    # The requests were real chat completions with the key from the named variable.
    path, headers, body = requests[0]
    assert path == "/v1/chat/completions"
    assert headers["authorization"] == "Bearer sk-test-123"
    assert body["model"] == "test-model"
    assert [m["role"] for m in body["messages"]] == ["system", "user"]
    # Round 2's prompt holds the guide, the rules, the baselines' code and round 1.
    prompt = (run.path / "rounds/0002/prompt.md").read_text()
    assert "## The session" in prompt and "## Rules of discovery" in prompt
    assert "class ConfidenceMomentum(Controller)" in prompt
    assert "Round 1: 01_first_votes" not in prompt  # scripted names are not used here
    assert "class FirstVotes(Controller)" in prompt and "Trace digest" in prompt
    money = run.rounds()[-1].money_total
    assert money == pytest.approx(first["money"] + 2 * 0 + (3.0 * 10 + 15.0 * 5) / 1e6)


def test_max_cost_stops_the_search_across_resumes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    script = [{"reply": REPLY, "input_tokens": 1_000_000, "output_tokens": 0}] * 3
    with ScriptedLLMServer(script) as server:
        options = {"proposer": "openai", "model": "m", "base_url": server.url + "/v1"}
        run = discover(
            tmp_path / "run", price_in=1.0, max_cost=1.5, rounds=5, **options, **SMALL, **FAST
        )
        assert [e.money_total for e in run.rounds()] == [1.0, 2.0]
        again = discover(tmp_path / "run", resume=True, price_in=1.0, **options, **FAST)
        assert len(again.rounds()) == 2
        assert len(server.requests) == 2
    selection = run.selection()
    assert selection is not None and selection.round == 1


def test_anthropic_proposer_through_the_official_client(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "ak-test")
    script = [
        {"status": 529},
        {"reply": REPLY, "input_tokens": 300, "output_tokens": 200},
        {"reply": "", "input_tokens": 300, "output_tokens": 0},
    ]
    with ScriptedLLMServer(script) as server:
        run = discover(
            tmp_path / "run", proposer="anthropic", model="claude-test", base_url=server.url,
            price_in=1.0, price_out=5.0, rounds=2, **SMALL, **FAST,
        )  # fmt: skip
        path, headers, body = server.requests[0]
    assert _rounds(run) == [("accepted", None), ("failed", "proposer")]
    assert path == "/v1/messages"
    # the key travels as x-api-key or (newer clients) as a bearer token
    assert "ak-test" in (headers.get("x-api-key", ""), headers.get("authorization", "")[7:])
    assert body["system"] and body["messages"][0]["role"] == "user"
    first = _proposal(run, 1)
    assert [a["ok"] for a in first["attempts"]] == [False, True]
    assert first["money"] == pytest.approx((300 + 5 * 200) / 1e6)
    assert _proposal(run, 2)["error"] == "empty reply"


def test_agent_proposer_runs_a_command_that_edits_the_file(tmp_path: Path) -> None:
    agent = f"{sys.executable} {ROOT / 'tests/discovery/stand_in_agent.py'}"
    run = discover(tmp_path / "run", proposer="agent", command=agent, rounds=2, **SMALL,
                   heldout_seeds=2)  # fmt: skip
    assert _rounds(run) == [("accepted", None), ("accepted", None)]
    code = [(run.path / f"rounds/{n:04d}/candidate.py").read_text() for n in (1, 2)]
    assert "after seeing 0 earlier rounds" in code[0]
    assert "after seeing 1 earlier rounds" in code[1]
    proposal = _proposal(run, 2)
    assert proposal["summary"] == "Wider full-read vote; saw 1 rounds."
    assert proposal["returncode"] == 0 and "edited controller.py" in proposal["stdout"]
    assert not (run.path / "rounds/0002/workspace").exists()


def test_agent_time_limit_and_unchanged_file_are_failed_rounds(tmp_path: Path) -> None:
    sleeper = f"{sys.executable} -c 'import time; time.sleep(60)'"
    run = discover(tmp_path / "slow", proposer="agent", command=sleeper, timeout=1.0,
                   rounds=1, **SMALL)  # fmt: skip
    assert _rounds(run) == [("failed", "proposer")]
    assert "timed out after 1 s" in _proposal(run, 1)["error"]
    idle = f"{sys.executable} -c 'print(1)'"
    run = discover(tmp_path / "idle", proposer="agent", command=idle, rounds=1, **SMALL)
    assert "unchanged" in _proposal(run, 1)["error"]


def test_critic_pass_reviews_and_may_replace_the_draft(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    revised = (ROOT / "examples" / "candidates" / "05_quick_agreement.py").read_text()
    script = [
        {"reply": REPLY, "input_tokens": 1000, "output_tokens": 100},
        {"reply": f"- adaptive stop\n```python\n{revised}```", "input_tokens": 500},
        {"reply": REPLY, "input_tokens": 1000, "output_tokens": 100},
        {"status": 400},  # the critic fails: the draft stands
    ]
    with ScriptedLLMServer(script) as server:
        run = discover(
            tmp_path / "run", proposer="openai", model="m", base_url=server.url + "/v1",
            critic=True, price_in=1.0, rounds=2, **SMALL, **FAST,
        )  # fmt: skip
        review_request = server.requests[1][2]["messages"][1]["content"]
    assert "# Review this controller" in review_request and "class FirstVotes" in review_request
    assert (run.path / "rounds/0001/candidate.py").read_text() == revised
    first = _proposal(run, 1)
    assert first["input_tokens"] == 1500 and first["money"] == pytest.approx(1500 / 1e6)
    assert "Critic pass: - adaptive stop" in first["summary"]
    assert first["critic"]["reply"].startswith("- adaptive stop")
    assert (run.path / "rounds/0002/candidate.py").read_text() == GOOD
    assert "400" in _proposal(run, 2)["critic"]["error"]
    assert [e.verdict for e in run.rounds()] == ["accepted", "accepted"]
