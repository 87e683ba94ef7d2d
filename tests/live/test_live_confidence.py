"""Probe confidence live: a probe asked for log-probabilities gives the session the
confidence replay data with ``probe_logprobs`` gives, through the runtime, the
replay-server and ``autotts serve`` (a sandboxed controller file, the official client)."""

from __future__ import annotations

import asyncio
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from openai import OpenAI

from autotts.controllers.base import Controller
from autotts.controllers.parallel_probe import ParallelProbe
from autotts.data.loading import confidence_of, load_replay
from autotts.env.episode import Episode
from autotts.env.ordering import reference_order
from autotts.env.session import Session
from autotts.evaluation.protocols import ReferenceProtocol
from autotts.evaluation.runner import run_episodes
from autotts.live.client import CompletionClient, Sampling
from autotts.live.prompts import render
from autotts.live.runtime import solve_live
from tests.controllers.random_replay import random_document
from tests.live.servers import autotts, free_port, running, write_store

#: a controller file that answers with the confidences its reads showed (JSON), so
#: what a sandboxed worker saw comes back as the served answer
RECORDER = """
import json
from autotts import Controller, Session


class ConfidenceRecorder(Controller):
    name = "confidence-recorder"

    def __init__(self, beta: float = 0.5) -> None:
        self.beta = beta

    def solve(self, session: Session) -> str | None:
        seen = []
        for _ in range(3):
            if not session.can_branch:
                break
            answer, slot, finished = session.probe_new()
            seen.append(session.probe_confidence(slot))
            while not finished:
                answer, finished = session.probe_more(slot)
                seen.append(session.probe_confidence(slot))
        return json.dumps(seen)
"""


def _recorder_class() -> type[Controller]:
    """The same file's class, loaded in this process (the replay side of the comparison)."""
    namespace: dict[str, Any] = {}
    exec(compile(RECORDER, "recorder.py", "exec"), namespace)
    cls: type[Controller] = namespace["ConfidenceRecorder"]
    return cls


Recorder = _recorder_class()


def with_confidences(seed: int) -> list[dict[str, Any]]:
    """Random replay data whose probes carry mean log-probabilities, some missing."""
    rng = np.random.default_rng(seed)
    document = random_document(seed, questions=3, branches=8)
    for item in document:
        item["probe_logprobs"] = [
            [None if rng.random() < 0.2 else float(-rng.exponential(0.7)) for _ in row[0]]
            for row in item["each_branch"]
        ]
    return document


@pytest.fixture(scope="module")
def confident_upstream(tmp_path_factory: pytest.TempPathFactory) -> Any:
    root: Path = tmp_path_factory.mktemp("confident")
    document = with_confidences(11)
    path = write_store(root, "C", "bench", document)
    port = free_port()
    with running(
        autotts("replay-server", "--data", str(root), "--model", "C", "--port", str(port)), port
    ) as base:
        yield {"url": f"{base}/v1", "document": document, "path": path, "root": root}


def replayed(path: Path, q: int, seed: int) -> list[float | None]:
    """What the recorder sees on replay data (the reference's branch order for ``seed``)."""
    question = load_replay(path).questions[q]
    order = reference_order(question.n_branches, seed)
    return json.loads(Recorder().solve(Session(Episode(question, order))) or "[]")


def live(url: str, document: list[dict[str, Any]], controller: Controller, **kw: Any) -> list[Any]:
    async def run() -> list[Any]:
        client = CompletionClient(url, "C", sampling=Sampling(**kw), concurrency=4)
        try:
            return [
                await solve_live(
                    controller,
                    client,
                    render("plain", item["question"]),
                    pool_size=len(item["each_branch"]),
                    seed=0,
                    max_tokens=10**6,
                )
                for item in document
            ]
        finally:
            await client.close()

    return asyncio.run(run())


def test_live_probes_show_the_confidences_replay_data_holds(confident_upstream: Any) -> None:
    up = confident_upstream
    results = live(up["url"], up["document"], Recorder(), probe_logprobs=True)
    some = 0
    for q, result in enumerate(results):
        got, want = json.loads(result.answer), replayed(up["path"], q, 0)
        assert len(got) == len(want)
        for g, w in zip(got, want):
            assert (g is None) == (w is None), (q, got, want)
            if w is not None:
                assert g == pytest.approx(w, rel=1e-12)
                some += 1
    assert some >= 5  # the premise: the data gave confidences to compare


def test_without_logprobs_a_live_session_has_no_confidence(confident_upstream: Any) -> None:
    up = confident_upstream
    for result in live(up["url"], up["document"], Recorder()):
        seen = json.loads(result.answer)
        assert seen and all(c is None for c in seen)


def test_confidence_weighted_parallel_probe_live_equals_its_replay(confident_upstream: Any) -> None:
    up = confident_upstream
    controller = ParallelProbe(num_chains=6, T=2, confidence_weighted=True)
    replay = load_replay(up["path"])
    table = run_episodes(controller, replay, ReferenceProtocol(seeds=1), vectorised=False)
    for q, result in enumerate(live(up["url"], up["document"], controller, probe_logprobs=True)):
        assert replay.is_correct(q, result.answer) == table.correct[0, q]
        assert result.tokens == table.cost[0, q]


def test_confidence_of_is_exp_of_the_mean_and_none_without_one() -> None:
    assert confidence_of(-0.5) == math.exp(-0.5)
    assert confidence_of(1e-9) == 1.0  # a server's rounding above 0
    assert confidence_of(None) is None
    assert confidence_of(float("-inf")) is None
    assert confidence_of(float("nan")) is None


def test_a_served_sandboxed_file_reads_live_confidences(
    confident_upstream: Any, tmp_path: Path
) -> None:
    """``autotts serve`` (default ``--logprobs``) with a controller file in its sandboxed
    worker, called with the official client: the worker's reads show the confidences."""
    up = confident_upstream
    source = tmp_path / "recorder.py"
    source.write_text(RECORDER)
    port = free_port()
    server = autotts(
        "serve", "--upstream", up["url"], "--model", "C", "--controller", str(source),
        "--pool", "8", "--port", str(port),
    )  # fmt: skip
    with running(server, port) as base:
        client = OpenAI(base_url=f"{base}/v1", api_key="unused")
        for q, item in enumerate(up["document"]):
            response = client.chat.completions.create(
                model="C", messages=[{"role": "user", "content": item["question"]}], seed=0
            )
            got = json.loads(response.choices[0].message.content or "[]")
            want = replayed(up["path"], q, 0)
            assert [g is None for g in got] == [w is None for w in want]
            assert [g for g in got if g is not None] == pytest.approx(
                [w for w in want if w is not None], rel=1e-12
            )
