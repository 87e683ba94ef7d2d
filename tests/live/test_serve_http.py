"""``autotts serve`` as an OpenAI client sees it: models, health, errors, timeouts."""

from __future__ import annotations

import os
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from openai import OpenAI

from tests.live.servers import autotts, free_port, running


@pytest.fixture(scope="module")
def served(random_upstream: dict[str, Any]) -> Iterator[str]:
    port = free_port()
    command = autotts(
        "serve",
        "--upstream",
        random_upstream["url"],
        "--model",
        "R",
        "--served-name",
        "tts",
        "--controller",
        "sc",
        "--beta",
        "0.2",
        "--pool",
        "12",
        "--port",
        str(port),
    )
    with running(command, port) as base:
        yield base


def test_answers_with_usage_and_autotts_fields(served: str, random_upstream: dict) -> None:
    client = OpenAI(base_url=f"{served}/v1", api_key="unused")
    assert [m.id for m in client.models.list().data] == ["tts"]
    question = random_upstream["document"][0]["question"]
    response = client.chat.completions.create(
        model="tts",
        messages=[{"role": "system", "content": "be brief"}, {"role": "user", "content": question}],
        seed=1,
    )
    extra = response.model_extra["autotts"]
    assert set(extra) >= {"answer", "tokens", "sequential_tokens", "branches_used", "stop_reason"}
    assert response.choices[0].message.content == extra["answer"]
    assert extra["branches_used"] >= 1 and extra["tokens"] > 0
    assert response.usage is not None and response.usage.total_tokens > extra["tokens"]
    assert httpx.get(f"{served}/health").json()["status"] == "ok"


@pytest.mark.parametrize(
    ("body", "error", "message"),
    [
        (
            {"model": "nope", "messages": [{"role": "user", "content": "q0"}]},
            openai.NotFoundError,
            "not found",
        ),
        (
            {"model": "tts", "messages": [{"role": "user", "content": "q0"}], "beta": 2},
            openai.BadRequestError,
            "beta",
        ),
        (
            {"model": "tts", "messages": [{"role": "user", "content": "q0"}], "beta": "x"},
            openai.BadRequestError,
            "beta",
        ),
        ({"model": "tts", "messages": []}, openai.BadRequestError, "messages"),
        (
            {"model": "tts", "messages": [{"role": "system", "content": "hi"}]},
            openai.BadRequestError,
            "no user message",
        ),
        # The upstream's 400 (a question it does not have) stays a client error: not retried.
        (
            {"model": "tts", "messages": [{"role": "user", "content": "not stored"}]},
            openai.BadRequestError,
            "upstream",
        ),
        (
            {"model": "tts", "messages": [{"role": "user", "content": "q0"}], "n": 2},
            openai.BadRequestError,
            "'n' must be 1",
        ),
    ],
)
def test_bad_requests_get_openai_errors(served: str, body: dict, error: type, message: str) -> None:
    client = OpenAI(base_url=f"{served}/v1", api_key="unused", max_retries=0)
    extra = {k: v for k, v in body.items() if k not in ("model", "messages")}
    with pytest.raises(error, match=message):
        client.chat.completions.create(
            model=body["model"], messages=body["messages"], extra_body=extra
        )


def test_every_request_is_logged_in_one_line(served: str) -> None:
    port = served.rsplit(":", 1)[1]
    log = Path(os.environ.get("TMPDIR", "/tmp")) / f"autotts-server-{port}.log"
    httpx.get(f"{served}/v1/models")
    httpx.post(f"{served}/v1/chat/completions", json={"model": "nope", "messages": []})
    # The line is written once the response has gone out, so it may land just after the
    # client has its answer: wait for it (briefly) rather than read once.
    wanted = (" GET /v1/models 200 ", " POST /v1/chat/completions 404 ")
    deadline = time.monotonic() + 10
    while True:
        lines = log.read_text().splitlines()
        found = [any(w in line for line in lines) for w in wanted]
        if all(found) or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert all(found), lines


def test_timeout_is_a_504(random_upstream: dict[str, Any]) -> None:
    port = free_port()
    command = autotts(
        "serve",
        "--upstream",
        random_upstream["url"],
        "--model",
        "R",
        "--controller",
        "cmc",
        "--beta",
        "1",
        "--pool",
        "12",
        "--no-prefetch",
        "--timeout",
        "0.05",
        "--port",
        str(port),
    )
    with running(command, port) as base:
        response = httpx.post(
            f"{base}/v1/chat/completions",
            timeout=30,
            json={"model": "R", "messages": [{"role": "user", "content": "q1"}]},
        )
    assert response.status_code == 504
    assert "no answer within" in response.json()["error"]["message"]


def test_sigint_finishes_the_request_in_flight(random_upstream: dict[str, Any]) -> None:
    port = free_port()
    command = autotts(
        "serve",
        "--upstream",
        random_upstream["url"],
        "--model",
        "R",
        "--controller",
        "sc",
        "--beta",
        "1",
        "--pool",
        "12",
        "--port",
        str(port),
    )
    log = Path(tempfile.mkdtemp()) / "serve.log"
    with log.open("w") as handle:
        process = subprocess.Popen(command, stdout=handle, stderr=subprocess.STDOUT)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.1)
        replies: list[httpx.Response] = []
        request = threading.Thread(
            target=lambda: replies.append(
                httpx.post(
                    f"{base}/v1/chat/completions",
                    timeout=120,
                    json={"model": "R", "messages": [{"role": "user", "content": "q2"}]},
                )
            )
        )
        request.start()
        time.sleep(0.5)  # the request is being solved
        process.send_signal(signal.SIGINT)
        request.join(timeout=120)
        assert process.wait(timeout=60) == 0, log.read_text()
    finally:
        if process.poll() is None:
            process.kill()
    assert replies and replies[0].status_code == 200, log.read_text()
    assert replies[0].json()["autotts"]["branches_used"] >= 1
