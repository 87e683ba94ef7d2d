"""How fast is `autotts table --workers 1`, and does it give the same numbers episode by episode?

Run:  python benchmarks/table_speed.py [--data ../shared/data/replay] [--sample-seeds 10]

It prints
1. the wall time of the whole 72-row table (12 replay files × 6 methods, reference
   protocol, 100 seeds) on one process, with a per-method breakdown;
2. the speed-up over the published reference code, whose time for the same table on
   this machine kind is given by the project brief as about 590 CPU-seconds (that
   code is not part of this repository, so its time is an input, not a measurement);
3. a measured ratio within this run: the episode-by-episode path (controllers' own
   ``solve`` through a Session, what any custom controller uses) against the
   vectorised path on the same sample of seeds, with a check that both give
   identical per-episode results.
"""

from __future__ import annotations

import argparse
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

from autotts.controllers.registry import build
from autotts.data.catalog import BENCHMARKS, MODELS
from autotts.evaluation.jobs import DataRef, evaluate, load_data
from autotts.evaluation.protocols import ReferenceProtocol
from autotts.evaluation.runner import run_episodes
from autotts.evaluation.table import TABLE_METHODS, table_jobs

REFERENCE_CPU_SECONDS = 590.0  # the published code on this machine kind (project brief)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "replay"
    parser.add_argument("--data", type=Path, default=default)
    parser.add_argument("--sample-seeds", type=int, default=10)
    parser.add_argument("--sample-model", default="Qwen3-4B")
    parser.add_argument("--sample-benchmark", default="aime24")
    args = parser.parse_args()

    refs = [DataRef(str(args.data), m, b) for m in MODELS for b in BENCHMARKS]
    start = time.perf_counter()
    cpu_start = time.process_time()
    for ref in refs:
        load_data(ref)
    load_time = time.perf_counter() - start
    per_method: dict[str, float] = defaultdict(float)
    for job in table_jobs(refs):
        t = time.perf_counter()
        evaluate(job)
        per_method[job.label] += time.perf_counter() - t
    wall = time.perf_counter() - start
    cpu = time.process_time() - cpu_start

    print(f"table, 72 rows, 1 process: {wall:.2f} s wall, {cpu:.2f} s CPU")
    print(f"  loading 12 replay files   {load_time:6.2f} s")
    for label, seconds in per_method.items():
        print(f"  {label:<26}{seconds:6.2f} s  ({seconds / len(refs):.3f} s per row)")
    print(
        f"speed-up over the published code ({REFERENCE_CPU_SECONDS:.0f} CPU-s): "
        f"{REFERENCE_CPU_SECONDS / cpu:.1f}x"
    )

    ref = DataRef(str(args.data), args.sample_model, args.sample_benchmark)
    replay = load_data(ref)
    protocol = ReferenceProtocol(seeds=args.sample_seeds)
    print(
        f"\nepisode-by-episode vs vectorised, {ref.model}/{ref.benchmark}, "
        f"{args.sample_seeds} seeds:"
    )
    total_fast = total_slow = 0.0
    for label, spec in TABLE_METHODS.items():
        controller = build(spec)
        t = time.perf_counter()
        fast = run_episodes(controller, replay, protocol, vectorised=True)
        t_fast = time.perf_counter() - t
        t = time.perf_counter()
        slow = run_episodes(controller, replay, protocol, vectorised=False)
        t_slow = time.perf_counter() - t
        same = (
            np.array_equal(fast.correct, slow.correct)
            and np.array_equal(fast.cost, slow.cost)
            and np.array_equal(fast.sequential_cost, slow.sequential_cost)
        )
        total_fast += t_fast
        total_slow += t_slow
        print(
            f"  {label:<16} solve() {t_slow:6.2f} s   vectorised {t_fast:6.3f} s   "
            f"{t_slow / t_fast:6.1f}x   identical: {same}"
        )
    print(f"  all methods: {total_slow / total_fast:.1f}x")


if __name__ == "__main__":
    main()
