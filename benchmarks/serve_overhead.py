"""What does sandboxing a served controller cost per request?

Run:  python benchmarks/serve_overhead.py [--data ../shared/data/replay] [--model Qwen3-4B]
          [--benchmark aime24] [--questions 3] [--branches 16] [--seeds 2] [--beta 0.3]
          [--controller examples/cmc_file.py:CMCFile]

Starts ``autotts replay-server`` on loopback over the file's first questions (their
shortest branches), then answers every question once per seed through the live runtime
(:func:`autotts.live.runtime.solve_live`, what ``autotts serve`` runs per request) three
ways: the file imported in process (``--trust``), sandboxed with a kept worker (what
``serve`` does), and sandboxed with a fresh worker per request. It checks that all three
give the same answers and tokens, and prints the mean wall time per request, the session
reads per request and the added time per request and per read.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from autotts.controllers.base import Controller
from autotts.controllers.registry import ControllerSpec, build
from autotts.live.client import CompletionClient
from autotts.live.prompts import render
from autotts.live.runtime import LiveResult, solve_live
from autotts.sandbox import read_candidate
from autotts.sandbox.live_client import ControllerPool, SandboxedController

ROOT = Path(__file__).resolve().parents[1]


def _store(args: argparse.Namespace, root: Path) -> list[dict[str, Any]]:
    source = Path(args.data) / args.model / f"{args.benchmark}.json"
    document = json.loads(source.read_text(encoding="utf-8"))[: args.questions]
    for item in document:
        item["each_branch"] = sorted(item["each_branch"], key=lambda b: b[1])[: args.branches]
        item["final_answers_trace"] = [b[2] for b in item["each_branch"]]
    path = root / "M" / "bench.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(document), encoding="utf-8")
    return document


async def _requests(
    controller: Controller, url: str, document: list[dict[str, Any]], seeds: int
) -> tuple[list[LiveResult], list[float]]:
    client = CompletionClient(url, "M")
    results, times = [], []
    try:
        for seed in range(seeds):
            for item in document:
                start = time.perf_counter()
                result = await solve_live(
                    controller, client, render("plain", item["question"]), pool_size=16, seed=seed
                )
                times.append(time.perf_counter() - start)
                results.append(result)
    finally:
        await client.close()
    return results, times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "replay"))
    parser.add_argument("--model", default="Qwen3-4B")
    parser.add_argument("--benchmark", default="aime24")
    parser.add_argument("--questions", type=int, default=3)
    parser.add_argument("--branches", type=int, default=16)
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--beta", type=float, default=0.3)
    parser.add_argument("--controller", default=str(ROOT / "examples" / "cmc_file.py:CMCFile"))
    parser.add_argument("--port", type=int, default=8951)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        document = _store(args, Path(tmp))
        command = ["replay-server", "--data", tmp, "--model", "M", "--port", str(args.port)]
        server = subprocess.Popen(
            [sys.executable, "-m", "autotts.cli.main", *command],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        url = f"http://127.0.0.1:{args.port}"
        try:
            for _ in range(300):
                try:
                    if httpx.get(url + "/health", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.1)
            candidate = read_candidate(args.controller)
            fresh_pool = ControllerPool(candidate, keep=0)
            ways: dict[str, Controller] = {
                "in process (--trust)": build(
                    ControllerSpec(args.controller, args.beta, trusted=True)
                ),
                "sandboxed, kept worker": SandboxedController.start(candidate, args.beta),
                "sandboxed, fresh worker": SandboxedController(
                    fresh_pool, args.beta, None, {}, fresh=True
                ),
            }
            runs = {
                name: asyncio.run(_requests(c, url + "/v1", document, args.seeds))
                for name, c in ways.items()
            }
        finally:
            server.terminate()
            server.wait()
    same = {
        tuple((r.answer, r.tokens, r.sequential_tokens) for r in results)
        for results, _ in runs.values()
    }
    print(f"{args.controller} β={args.beta}: {len(document)} questions × {args.seeds} seeds")
    print(f"identical answers and tokens all three ways: {len(same) == 1}")
    base_results, base_times = runs["in process (--trust)"]
    reads = statistics.mean(r.usage.requests for r in base_results)
    base = statistics.mean(base_times)
    for name, (_, times) in runs.items():
        mean = statistics.mean(times)
        extra = mean - base
        print(
            f"  {name:<24s} {mean * 1000:8.1f} ms/request  (+{extra * 1000:7.1f} ms; "
            f"{extra / reads * 1e6:7.0f} µs per upstream request, {reads:.0f} per request)"
        )


if __name__ == "__main__":
    main()
