"""``autotts collect`` at the limits: the length cap, the model's context, empty boxes, the
prompt template of a chat model (real servers on loopback, the real command)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from autotts.live.collector import DEFAULT_MAX_TOKENS, CollectPlan, template_for
from tests.live.fake_completions import Script, fake_server
from tests.live.servers import autotts, free_port, running, write_store


def collect(tmp_path: Path, base_url: str, *args: str, model: str = "m") -> dict[str, Any]:
    questions = tmp_path / "questions.jsonl"
    if not questions.exists():
        lines = [
            {"question": "What is six plus one?", "answer": "7"},
            {"question": "Q2?", "answer": "3"},
        ]
        questions.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    out = tmp_path / "out.json"
    result = subprocess.run(
        autotts(
            "collect", "--base-url", base_url, "--model", model, "--questions", str(questions),
            "--out", str(out), "--overwrite", *args,
        ),
        capture_output=True,
        text=True,
        timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    side = [
        json.loads(line) for line in out.with_name("out.json.side.jsonl").read_text().splitlines()
    ]
    return {
        "document": json.loads(out.read_text()),
        "settings": side[0]["settings"],
        "side": side[1:],
    }


def test_a_trajectory_cut_at_max_tokens_has_the_cut_length_and_its_probes(tmp_path: Path) -> None:
    # the branch: 41,191 tokens (82 probes) served, collected with a 32,768 cap;
    # it was stored with the served length and the probes of the cut (65)
    probes = [str(k % 5) for k in range(82)]
    document = [{"question": "Long one?", "gold_answer": "4", "probe_freq": 500,
                 "final_answers_trace": ["4"], "each_branch": [[probes, 41191, "4"]]}]  # fmt: skip
    write_store(tmp_path / "store", "M", "b", document)
    (tmp_path / "questions.jsonl").write_text('{"question": "Long one?", "answer": "4"}\n')
    port = free_port()
    store = str(tmp_path / "store")
    server = autotts("replay-server", "--data", store, "--model", "M", "--port", str(port))
    with running(server, port) as base:
        got = collect(tmp_path, f"{base}/v1", "--n", "1", "--max-tokens", "32768", model="M")
    stored_probes, tokens, _ = got["document"][0]["each_branch"][0]
    assert tokens == 32768
    assert stored_probes == probes[:65]  # one per full Δ before the cut: 65 · 500 ≤ 32,768
    assert got["side"][0]["branches"][0]["finish_reason"] == "max_tokens"


def test_the_model_context_ends_that_trajectory_and_collection_goes_on(tmp_path: Path) -> None:
    script = Script(context=1000, probe="5}")
    with fake_server(script) as url:
        got = collect(tmp_path, url, "--n", "2", "--delta", "100", "--template", "plain")
    assert len(got["document"]) == 2  # both questions, not an abort at the first 400
    for item, side in zip(got["document"], got["side"]):
        for (probes, tokens, final), branch in zip(item["each_branch"], side["branches"]):
            assert branch["finish_reason"] == "context_length"
            assert 800 <= tokens < 1000
            assert tokens == sum(branch["chunk_tokens"])
            # every full Δ chunk was probed; probes that no longer fit are ERR and listed
            assert len(probes) == tokens // 100
            refused = branch.get("probe_context_length", [])
            assert [p for k, p in enumerate(probes) if k not in refused] == ["5"] * (
                len(probes) - len(refused)
            )
            assert all(probes[k] == "ERR" for k in refused)
            assert final == "ERR"


def test_an_empty_box_is_err_and_the_side_file_says_it_was_empty(tmp_path: Path) -> None:
    script = Script(length=250, ending="so \\boxed{}", probe="}")
    with fake_server(script) as url:
        got = collect(tmp_path, url, "--n", "1", "--delta", "100", "--template", "plain")
    probes, _, final = got["document"][0]["each_branch"][0]
    assert (probes, final) == (["ERR", "ERR"], "ERR")  # never "", which would vote
    branch = got["side"][0]["branches"][0]
    assert branch["final_empty_box"] is True
    assert branch["probe_empty_boxes"] == [0, 1]
    assert branch["finish_reason"] == "stop"


def test_an_instruct_model_gets_the_chat_template_by_default(tmp_path: Path) -> None:
    script = Script(length=30, ending="\\boxed{7}")
    with fake_server(script) as url:
        got = collect(tmp_path, url, "--n", "1", model="SmolLM2-135M-Instruct")
    assert got["settings"]["plan"]["template"] == "chatml"
    assert all(p.startswith("<|im_start|>user\n") for p in script.prompts)
    assert got["document"][0]["each_branch"][0][2] == "7"


@pytest.mark.parametrize(
    ("model", "template"),
    [
        ("SmolLM2-135M-Instruct", "chatml"),
        ("HuggingFaceTB/SmolLM2-360M-Instruct", "chatml"),
        ("Qwen3-4B", "chatml"),
        ("Qwen/Qwen3-4B-Base", "plain"),
        ("gemma-2-2b-it", "chatml"),
        ("llama-chat", "chatml"),
        ("SmolLM2-135M", "plain"),
        ("M", "plain"),
    ],
)
def test_auto_template_by_model_name(model: str, template: str) -> None:
    assert template_for(model, "auto") == template
    assert template_for(model, "plain") == "plain"


def test_the_default_cap_is_above_the_public_datas_longest_trajectory(
    shared_replay_dir: Path,
) -> None:
    longest = max(
        branch[1]
        for path in shared_replay_dir.glob("*/*.json")
        for item in json.loads(path.read_text())
        for branch in item["each_branch"]
    )
    assert longest > 41_000
    assert CollectPlan().max_tokens == DEFAULT_MAX_TOKENS > longest
