"""What does the sandbox cost? The same controller file, in process (--trust) vs sandboxed.

Run:  python benchmarks/sandbox_overhead.py [--data ../shared/data/replay]
          [--model Qwen3-4B] [--benchmark aime24] [--seeds 20] [--beta 0.5]
          [--controller examples/cmc_file.py:CMCFile]

It evaluates the controller once each way on the same episodes, checks that both
give identical per-episode results, and prints wall time and CPU seconds for both
(sandboxed: the evaluator's, which replays every action log, plus what the worker
reports), and their ratio. It also times
``autotts check`` (the whole acceptance pipeline, default settings) on the same
file and model. CPU seconds are the fairer figure on a shared machine: wall time
grows with whatever else is running.
"""

from __future__ import annotations

import argparse
import resource
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from autotts.checking import check_controller
from autotts.controllers.registry import ControllerSpec, build
from autotts.evaluation.jobs import DataRef, load_data
from autotts.evaluation.protocols import ReferenceProtocol
from autotts.evaluation.runner import run_episodes
from autotts.evaluation.sandboxed import run_in_sandbox
from autotts.sandbox import SandboxLimits, available_layers, read_candidate

ROOT = Path(__file__).resolve().parents[1]


def _cpu() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    return own.ru_utime + own.ru_stime


def _timed(action: Callable[[], Any]) -> tuple[Any, float, float]:
    wall, cpu = time.perf_counter(), _cpu()
    result = action()
    return result, time.perf_counter() - wall, _cpu() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "replay"))
    parser.add_argument("--model", default="Qwen3-4B")
    parser.add_argument("--benchmark", default="aime24")
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--beta", type=float, default=0.5)
    parser.add_argument("--controller", default=str(ROOT / "examples" / "cmc_file.py") + ":CMCFile")
    args = parser.parse_args()

    ref = DataRef(args.data, args.model, args.benchmark)
    replay = load_data(ref)  # parse the file once, outside every timing
    protocol = ReferenceProtocol(seeds=args.seeds)
    candidate = read_candidate(args.controller)
    trusted = build(ControllerSpec(args.controller, args.beta, trusted=True))
    # Warm up both paths (imports, first compilation) so that neither timing pays for them.
    run_episodes(trusted, replay, ReferenceProtocol(seeds=1))
    run_in_sandbox(candidate, replay, ReferenceProtocol(seeds=1), beta=args.beta)

    outside, out_wall, out_cpu = _timed(lambda: run_episodes(trusted, replay, protocol))
    inside, in_wall, parent_cpu = _timed(
        lambda: run_in_sandbox(candidate, replay, protocol, beta=args.beta)
    )
    in_cpu = parent_cpu + inside.worker_cpu_seconds
    same = all(
        np.array_equal(getattr(inside.table, f), getattr(outside, f))
        for f in ("correct", "cost", "sequential_cost")
    )
    episodes = protocol.replicates * len(replay)
    print(f"layers: {', '.join(available_layers(SandboxLimits()))}")
    print(f"{args.controller} β={args.beta} on {ref.model}/{ref.benchmark}, {episodes} episodes")
    print(f"  --trust (in process): {out_wall:6.2f} s wall  {out_cpu:6.2f} CPU-s")
    print(
        f"  sandboxed           : {in_wall:6.2f} s wall  {in_cpu:6.2f} CPU-s "
        f"(evaluator {parent_cpu:.2f} + worker {inside.worker_cpu_seconds:.2f})"
    )
    print(f"  ratio sandbox/trust : {in_wall / out_wall:6.2f}x wall  {in_cpu / out_cpu:6.2f}x CPU")
    print(f"  identical episodes  : {same}")

    refs = [DataRef(args.data, args.model, b) for b in ("aime24", "aime25", "hmmt25")]
    for r in refs:
        load_data(r)
    path = args.controller.rsplit(":", 1)[0]
    report, wall, cpu = _timed(lambda: check_controller(path, refs))
    print(
        f"autotts check {Path(path).name} on {args.model} (3 files, default β grid and seeds): "
        f"{report.verdict} in {wall:.1f} s wall, evaluator {cpu:.1f} CPU-s"
    )


if __name__ == "__main__":
    main()
