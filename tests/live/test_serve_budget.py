"""A budget per request in ``autotts serve``: the server's flags, the request's fields, the
caps holding (plain and streamed, in process and sandboxed) and clear 400s."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.live.fake_completions import Script, fake_server
from tests.live.servers import autotts, free_port, running

# Trajectories of 400 tokens, probes that disagree: CMC at β = 1 reads well past the caps
# below when nothing stops it (checked in the first test).
SCRIPT = {"length": 400, "ending": "so \\boxed{7}", "probes": ("1}", "2}", "3}", "7}")}
TOKENS_LIMIT, BRANCH_LIMIT = 1500, 6


def serve_command(url: str, port: int, *extra: str, controller: str = "cmc") -> list[str]:
    return autotts(
        "serve", "--upstream", url, "--model", "m", "--controller", controller, "--beta", "1",
        "--pool", "8", "--delta", "50", "--probe-tokens", "8", "--port", str(port), *extra,
    )  # fmt: skip


@pytest.fixture(scope="module")
def upstream() -> Iterator[str]:
    with fake_server(Script(**SCRIPT)) as url:  # type: ignore[arg-type]
        yield url


@pytest.fixture(scope="module")
def limited(upstream: str) -> Iterator[str]:
    """Served with both caps as server flags."""
    port = free_port()
    extra = ("--max-tokens-per-request", str(TOKENS_LIMIT), "--max-branches", str(BRANCH_LIMIT))
    with running(serve_command(upstream, port, *extra), port) as base:
        yield base


def ask(base: str, **body: Any) -> httpx.Response:
    request = {"model": "m", "messages": [{"role": "user", "content": "q"}], "seed": 0, **body}
    return httpx.post(f"{base}/v1/chat/completions", json=request, timeout=120)


def test_without_caps_the_controller_spends_more(upstream: str) -> None:
    """What the caps below cut: uncapped, this episode spends well past them."""
    port = free_port()
    with running(serve_command(upstream, port), port) as base:
        reply = ask(base).json()
    assert reply["usage"]["completion_tokens"] > 2 * TOKENS_LIMIT
    assert reply["autotts"]["branches_used"] == 8
    assert reply["autotts"]["budget"] == {
        "max_tokens": None,
        "max_branches": 8,
        "completion_tokens": reply["usage"]["completion_tokens"],
        "tokens_hit": False,
        "branches_hit": False,
    }
    assert reply["choices"][0]["finish_reason"] == "stop"


def test_the_server_limits_are_the_default_caps(limited: str) -> None:
    reply = ask(limited).json()
    budget = reply["autotts"]["budget"]
    assert budget["max_tokens"] == TOKENS_LIMIT and budget["max_branches"] == BRANCH_LIMIT
    assert reply["usage"]["completion_tokens"] == budget["completion_tokens"] <= TOKENS_LIMIT
    assert budget["tokens_hit"]
    assert reply["autotts"]["branches_used"] <= BRANCH_LIMIT
    # Stopped by the cap, answered with what the branches showed; OpenAI's "length".
    assert reply["autotts"]["stop_reason"] == "token cap"
    assert reply["choices"][0]["finish_reason"] == "length"
    assert reply["choices"][0]["message"]["content"] in {"1", "2", "3", "7"}


@pytest.mark.parametrize("field", ["max_completion_tokens", "max_tokens"])
def test_a_request_sets_a_lower_token_cap(limited: str, field: str) -> None:
    reply = ask(limited, **{field: 400}).json()
    assert reply["autotts"]["budget"]["max_tokens"] == 400
    assert 0 < reply["usage"]["completion_tokens"] <= 400
    assert reply["autotts"]["budget"]["tokens_hit"]


def test_a_request_sets_a_lower_branch_cap(limited: str) -> None:
    reply = ask(limited, max_branches=2).json()
    assert reply["autotts"]["branches_used"] == 2
    assert reply["autotts"]["budget"]["branches_hit"]
    assert reply["autotts"]["budget"]["max_branches"] == 2


def test_a_streamed_request_keeps_its_cap(limited: str) -> None:
    body = {
        "model": "m",
        "messages": [{"role": "user", "content": "q"}],
        "stream": True,
        "stream_options": {"include_usage": True},
        "max_completion_tokens": 500,
    }
    with httpx.stream("POST", f"{limited}/v1/chat/completions", json=body, timeout=120) as response:
        events = [line[6:] for line in response.iter_lines() if line.startswith("data: ")]
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    progress = [c["autotts"]["progress"] for c in chunks if "progress" in c.get("autotts", {})]
    assert all(p["completion_tokens"] <= 500 for p in progress)
    finish = next(c for c in chunks if c["choices"] and c["choices"][0]["finish_reason"])
    assert finish["choices"][0]["finish_reason"] == "length"
    assert finish["autotts"]["budget"]["tokens_hit"]
    assert 0 < chunks[-1]["usage"]["completion_tokens"] <= 500


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"max_completion_tokens": TOKENS_LIMIT + 1}, "above this server's limit of 1500"),
        ({"max_tokens": 10}, "'max_tokens' must be at least 58"),
        ({"max_completion_tokens": 0}, "must be a positive integer"),
        ({"max_completion_tokens": True}, "must be a positive integer"),
        ({"max_completion_tokens": "500"}, "must be a positive integer"),
        ({"max_completion_tokens": 500, "max_tokens": 600}, "differ; send one"),
        ({"max_branches": BRANCH_LIMIT + 1}, "above this server's limit of 6 (--max-branches)"),
        ({"max_branches": 1.5}, "'max_branches' must be a positive integer"),
    ],
)
def test_bad_budgets_are_400s(limited: str, body: dict[str, Any], message: str) -> None:
    for stream in (False, True):  # before a stream starts, as a plain error
        response = ask(limited, stream=stream, **body)
        assert response.status_code == 400
        assert message in response.json()["error"]["message"]


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (("--max-branches", "9"), "--max-branches must be between 1 and --pool (8)"),
        (("--max-branches", "0"), "--max-branches must be between 1 and --pool (8)"),
        (("--max-tokens-per-request", "20"), "--max-tokens-per-request must be at least 58"),
    ],
)
def test_bad_budget_flags_fail_at_start(
    upstream: str, flags: tuple[str, ...], message: str
) -> None:
    done = subprocess.run(
        serve_command(upstream, free_port(), *flags), capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert message in " ".join(done.stderr.split())


def test_serve_help_explains_the_budget_flags() -> None:
    done = subprocess.run(
        autotts("serve", "--help"),
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "COLUMNS": "200"},
    )
    text = " ".join(done.stdout.replace("│", " ").split())  # the words, out of rich's box
    assert "--max-tokens-per-request" in text and "max_completion_tokens" in text
    assert "--max-branches" in text and "'max_branches'" in text


def test_a_sandboxed_controller_is_held_to_the_cap(upstream: str, tmp_path: Path) -> None:
    """A controller file (sandboxed) that reads on and on, never asking can_branch: the
    cap refuses its read inside the worker, the request is answered for it."""
    path = tmp_path / "reader.py"
    path.write_text(
        "from autotts import Controller\n\n\nclass Reader(Controller):\n"
        "    def __init__(self, beta=0.5):\n        self.beta = beta\n\n"
        "    def solve(self, session):\n"
        "        _, branch, finished = session.probe_new()\n"
        "        while True:\n"
        "            while not finished:\n"
        "                _, finished = session.probe_more(branch)\n"
        "            _, branch, finished = session.probe_new()\n"
    )
    port = free_port()
    command = serve_command(upstream, port, "--pool", "64", controller=f"{path}:Reader")
    with running(command, port) as base:
        reply = ask(base, max_completion_tokens=1000).json()
        assert httpx.get(f"{base}/health").json()["status"] == "ok"
    assert reply["autotts"]["stop_reason"] == "token cap", reply
    assert reply["usage"]["completion_tokens"] <= 1000
    assert reply["choices"][0]["message"]["content"] == "7"  # the finished branches' answer
