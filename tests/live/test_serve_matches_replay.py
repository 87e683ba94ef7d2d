"""``serve`` with CMC over a replay-server, called with the official ``openai`` client,
answers exactly as the replay evaluation does on the same seeds: same answers scored
the same, same tokens, same sequential tokens, episode by episode."""

from __future__ import annotations

from pathlib import Path

import pytest
from openai import OpenAI

from autotts.controllers.registry import ControllerSpec, build
from autotts.data.loading import load_replay
from autotts.evaluation.protocols import ReferenceProtocol
from autotts.evaluation.runner import run_episodes
from tests.live.servers import autotts, free_port, running, write_store
from tests.live.test_collect_roundtrip import shortest_branches

SEEDS = 2


@pytest.mark.parametrize(("controller", "beta"), [("cmc", 0.5), ("parallel-probe", 0.3)])
def test_served_controller_equals_its_replay(
    controller: str, beta: float, tmp_path: Path, shared_replay_dir: Path
) -> None:
    document = shortest_branches(shared_replay_dir / "Qwen3-4B" / "aime24.json", 3, 16)
    path = write_store(tmp_path, "M", "bench", document)
    replay = load_replay(path)
    table = run_episodes(
        build(ControllerSpec(controller, beta=beta)), replay, ReferenceProtocol(seeds=SEEDS)
    )

    replay_port, serve_port = free_port(), free_port()
    upstream = autotts(
        "replay-server", "--data", str(tmp_path), "--model", "M", "--port", str(replay_port)
    )
    server = autotts(
        "serve",
        "--upstream",
        f"http://127.0.0.1:{replay_port}/v1",
        "--model",
        "M",
        "--controller",
        controller,
        "--beta",
        "0.9",
        "--pool",
        "16",
        "--port",
        str(serve_port),
    )
    with running(upstream, replay_port), running(server, serve_port) as base:
        client = OpenAI(base_url=f"{base}/v1", api_key="unused")
        assert [m.id for m in client.models.list().data] == ["M"]
        for r in range(SEEDS):
            for q, item in enumerate(document):
                response = client.chat.completions.create(
                    model="M",
                    messages=[{"role": "user", "content": item["question"]}],
                    seed=r,
                    extra_body={"beta": beta},  # overrides the server's default β
                )
                extra = response.model_extra["autotts"]
                answer = response.choices[0].message.content
                assert answer == (extra["answer"] or "")
                assert replay.is_correct(q, extra["answer"]) == table.correct[r, q], (r, q)
                assert extra["tokens"] == table.cost[r, q], (r, q)
                assert extra["sequential_tokens"] == table.sequential_cost[r, q], (r, q)
                assert extra["beta"] == beta
                assert response.usage is not None
                assert response.usage.completion_tokens >= extra["tokens"]
