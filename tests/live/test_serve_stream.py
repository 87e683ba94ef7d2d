"""``"stream": true`` in ``autotts serve``: OpenAI's server-sent chunks, read by the official
client, by LangChain's ``ChatOpenAI`` and raw; errors before and during a stream; a client
that leaves cancels the upstream work."""

from __future__ import annotations

import itertools
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from openai import OpenAI

from tests.live.fake_completions import Script, fake_server
from tests.live.servers import autotts, free_port, running

DOCS = Path(__file__).resolve().parents[2] / "docs" / "live.md"


@pytest.fixture(scope="module")
def served(random_upstream: dict[str, Any]) -> Iterator[str]:
    """CMC over the replay upstream (a question it does not store is an upstream 400)."""
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
        "cmc",
        "--beta",
        "0.5",
        "--pool",
        "12",
        "--port",
        str(port),
    )
    with running(command, port) as base:
        yield base


def sse_data(response: httpx.Response) -> list[str]:
    """The ``data:`` payloads of a raw event stream, in order; other lines must be blank
    or SSE comments (keep-alives)."""
    payloads = []
    for line in response.iter_lines():
        if line.startswith("data: "):
            payloads.append(line[len("data: ") :])
        else:
            assert line == "" or line.startswith(":"), line
    return payloads


def stream_raw(base: str, body: dict[str, Any]) -> tuple[httpx.Response, list[str]]:
    with httpx.stream("POST", f"{base}/v1/chat/completions", json=body, timeout=120) as response:
        return response, sse_data(response)


def question(upstream: dict[str, Any], q: int) -> list[dict[str, str]]:
    return [{"role": "user", "content": upstream["document"][q]["question"]}]


@pytest.mark.parametrize("include_usage", [False, True])
def test_the_stream_has_openais_shape(
    served: str, random_upstream: dict[str, Any], include_usage: bool
) -> None:
    body: dict[str, Any] = {
        "model": "tts",
        "messages": question(random_upstream, 1),
        "seed": 2,
        "stream": True,
    }
    if include_usage:
        body["stream_options"] = {"include_usage": True}
    response, payloads = stream_raw(served, body)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    assert payloads[-1] == "[DONE]"
    chunks = [json.loads(p) for p in payloads[:-1]]
    assert {c["object"] for c in chunks} == {"chat.completion.chunk"}
    assert len({c["id"] for c in chunks}) == 1 and {c["model"] for c in chunks} == {"tts"}
    # The role first; no content but the answer, once; the finish with the autotts object.
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    contents = [
        c["choices"][0]["delta"]["content"]
        for c in chunks[1:]
        if c["choices"] and c["choices"][0]["delta"].get("content")
    ]
    finish = [c for c in chunks if c["choices"] and c["choices"][0]["finish_reason"]]
    assert len(finish) == 1 and finish[0]["choices"][0]["finish_reason"] == "stop"
    extra = finish[0]["autotts"]
    assert contents == ([extra["answer"]] if extra["answer"] else [])
    # The stream and the plain reply are the same episode (same seed, same answer and cost).
    plain = httpx.post(
        f"{served}/v1/chat/completions",
        json={k: v for k, v in body.items() if k not in ("stream", "stream_options")},
        timeout=120,
    ).json()["autotts"]
    for key in ("answer", "tokens", "sequential_tokens", "branches_used", "stop_reason"):
        assert extra[key] == plain[key], key
    if include_usage:
        # OpenAI's shape: "usage": null on every chunk, the totals on a last chunk without
        # choices.
        assert all(c["usage"] is None for c in chunks[:-1])
        last = chunks[-1]
        assert last["choices"] == [] and last["usage"]["completion_tokens"] >= extra["tokens"]
        assert last["usage"]["total_tokens"] == (
            last["usage"]["prompt_tokens"] + last["usage"]["completion_tokens"]
        )
    else:
        assert all("usage" not in c for c in chunks)


def test_the_official_client_streams_progress_then_the_answer() -> None:
    """A slow upstream: the client sees progress chunks (empty deltas, counts in an
    ``autotts.progress`` field) while CMC reads, then the answer."""
    script = Script(length=600, ending="so \\boxed{7}", delay=0.05)
    with fake_server(script) as url:
        port = free_port()
        command = autotts(
            "serve",
            "--upstream",
            url,
            "--model",
            "m",
            "--controller",
            "cmc",
            "--beta",
            "1",
            "--pool",
            "6",
            "--delta",
            "100",
            "--port",
            str(port),
        )
        with running(command, port) as base:
            client = OpenAI(base_url=f"{base}/v1", api_key="unused")
            stream = client.chat.completions.create(
                model="m",
                messages=[{"role": "user", "content": "what is 3 + 4?"}],
                stream=True,
                stream_options={"include_usage": True},
            )
            chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "7"
    progress = [
        c.model_extra["autotts"]["progress"]
        for c in chunks
        if "progress" in (c.model_extra or {}).get("autotts", {})
    ]
    assert len(progress) >= 2
    for before, after in itertools.pairwise(progress):
        assert after["tokens"] >= before["tokens"] and after["tokens"] > 0
        assert after["branches_used"] >= before["branches_used"] >= 1
    # Progress chunks say nothing a client would print: no content, no finish.
    for chunk in chunks:
        if chunk.choices and "progress" in (chunk.model_extra or {}).get("autotts", {}):
            assert chunk.choices[0].delta.content is None
            assert chunk.choices[0].finish_reason is None
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens > 0


def test_langchain_streams_and_invokes(served: str, random_upstream: dict[str, Any]) -> None:
    from langchain_openai import ChatOpenAI

    llm = ChatOpenAI(base_url=f"{served}/v1", api_key="unused", model="tts", seed=3)
    text = random_upstream["document"][0]["question"]
    streamed = "".join(str(chunk.content) for chunk in llm.stream(text))
    invoked = llm.invoke(text)
    assert streamed == invoked.content
    assert invoked.response_metadata["finish_reason"] == "stop"


def docs_snippet(marker: str) -> str:
    """The python block of docs/live.md that follows ``marker``."""
    text = DOCS.read_text(encoding="utf-8")
    found = re.search(re.escape(marker) + r".*?```python\n(.*?)```", text, re.S)
    assert found, marker
    return found.group(1)


@pytest.mark.parametrize("marker", ["LangChain's OpenAI chat client", "Streaming"])
def test_the_docs_snippets_run(marker: str) -> None:
    """docs/live.md's snippets, verbatim but for the port, against ``autotts serve`` with
    the name they ask for."""
    snippet = docs_snippet(marker)
    assert "http://127.0.0.1:8080/v1" in snippet
    with fake_server(Script(length=300, ending="so \\boxed{2}", probe="2}")) as url:
        port = free_port()
        command = autotts(
            "serve",
            "--upstream",
            url,
            "--model",
            "m",
            "--served-name",
            "Qwen3-4B",
            "--pool",
            "4",
            "--delta",
            "100",
            "--port",
            str(port),
        )
        with running(command, port) as base:
            ran = subprocess.run(
                [sys.executable, "-c", snippet.replace("http://127.0.0.1:8080", base)],
                capture_output=True,
                text=True,
                timeout=120,
            )
    assert ran.returncode == 0, ran.stderr
    assert "2" in ran.stdout.splitlines(), ran.stdout  # the answer, on a line of its own


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"beta": 2}, "beta"),
        ({"stream_options": {"include_usage": "yes"}}, "include_usage"),
        ({"stream_options": [1]}, "stream_options"),
        ({"max_branches": 0}, "max_branches"),
        ({"n": 2}, "'n' must be 1"),
    ],
)
def test_errors_before_the_stream_are_plain_openai_errors(
    served: str, extra: dict[str, Any], message: str
) -> None:
    client = OpenAI(base_url=f"{served}/v1", api_key="unused", max_retries=0)
    with pytest.raises(openai.BadRequestError, match=message):
        client.chat.completions.create(
            model="tts",
            messages=[{"role": "user", "content": "q0"}],
            stream=True,
            extra_body=extra,
        )


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"stream": "yes"}, "'stream' must be true or false"),
        ({"stream_options": {"include_usage": True}}, "only allowed when 'stream' is true"),
    ],
)
def test_stream_fields_are_checked(served: str, body: dict[str, Any], message: str) -> None:
    response = httpx.post(
        f"{served}/v1/chat/completions",
        json={"model": "tts", "messages": [{"role": "user", "content": "q0"}], **body},
        timeout=30,
    )
    assert response.status_code == 400
    assert message in response.json()["error"]["message"]


def test_an_error_mid_stream_ends_it_cleanly(served: str) -> None:
    """The upstream refuses (a question it does not store) after the stream started: an
    error event, ``[DONE]``, and the official client raises the message."""
    body = {
        "model": "tts",
        "messages": [{"role": "user", "content": "not stored"}],
        "stream": True,
    }
    response, payloads = stream_raw(served, body)
    assert response.status_code == 200
    assert payloads[-1] == "[DONE]"
    error = json.loads(payloads[-2])["error"]
    assert error["type"] == "upstream_error" and error["code"] == 400
    assert "upstream" in error["message"]
    client = OpenAI(base_url=f"{served}/v1", api_key="unused", max_retries=0)
    with pytest.raises(openai.APIError, match="upstream"):
        for _ in client.chat.completions.create(
            model="tts", messages=body["messages"], stream=True
        ):
            pass
    assert httpx.get(f"{served}/health").json()["status"] == "ok"  # still serving


def requests_after(script: Script, settle: float, watch: float) -> int:
    """Upstream requests that arrive during ``watch`` seconds, ``settle`` seconds from now."""
    time.sleep(settle)
    before = len(script.prompts)
    time.sleep(watch)
    return len(script.prompts) - before


@pytest.mark.parametrize("stream", [True, False])
def test_a_client_leaving_cancels_the_upstream_work(stream: bool) -> None:
    """A slow upstream and a controller that would read for minutes: once the client
    closes its connection no more upstream requests are made."""
    # Trajectories never end and probes disagree: CMC would read until its timeout.
    script = Script(delay=0.2, probes=("1}", "2}", "3}"))
    with fake_server(script) as url:
        port = free_port()
        command = autotts(
            "serve",
            "--upstream",
            url,
            "--model",
            "m",
            "--controller",
            "cmc",
            "--beta",
            "1",
            "--pool",
            "16",
            "--delta",
            "50",
            "--timeout",
            "120",
            "--port",
            str(port),
        )
        with running(command, port) as base:
            body = {"model": "m", "messages": [{"role": "user", "content": "q"}]}
            if stream:
                with httpx.stream(
                    "POST", f"{base}/v1/chat/completions", json={**body, "stream": True}
                ) as response:
                    for line in response.iter_lines():
                        if '"progress"' in line:
                            break  # the controller is reading: leave
            else:
                with pytest.raises(httpx.ReadTimeout):
                    httpx.post(f"{base}/v1/chat/completions", json=body, timeout=1.5)
            assert len(script.prompts) > 0
            assert requests_after(script, settle=1.0, watch=2.0) == 0
            # The server is still there and answers the next request.
            assert httpx.get(f"{base}/health").status_code == 200
    if not stream:  # the request's log line says the client left
        log = Path(os.environ.get("TMPDIR", "/tmp")) / f"autotts-server-{port}.log"
        assert " POST /v1/chat/completions 499 " in log.read_text()


def test_a_timeout_mid_stream_is_an_error_event() -> None:
    script = Script(delay=0.3, probes=("1}", "2}"))
    with fake_server(script) as url:
        port = free_port()
        command = autotts(
            "serve", "--upstream", url, "--model", "m", "--controller", "cmc", "--beta", "1",
            "--delta", "50", "--timeout", "1.5", "--port", str(port),
        )  # fmt: skip
        with running(command, port) as base:
            body = {"model": "m", "messages": [{"role": "user", "content": "q"}], "stream": True}
            response, payloads = stream_raw(base, body)
            assert requests_after(script, settle=0.5, watch=1.0) == 0  # the work was cancelled
    assert response.status_code == 200 and payloads[-1] == "[DONE]"
    assert json.loads(payloads[0])["choices"][0]["delta"]["role"] == "assistant"
    error = json.loads(payloads[-2])["error"]
    assert error == {"message": "no answer within 1.5 s", "type": "timeout", "code": 504}
