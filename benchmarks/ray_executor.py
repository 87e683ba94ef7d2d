"""The table workload and a controller-file sweep on the local executor and on Ray, in one run.

Run:  RAY_AUTH_MODE=disabled python benchmarks/ray_executor.py [--data ../shared/data/replay]
      [--cpus 2] [--interpreter cpython pypy] [--skip-table]

Starts a private local Ray instance with ``--cpus`` CPUs (default 2) and prints, for
(1) the 72-row table (12 files × 6 methods, 100 seeds) and (2) a sandboxed controller
file (examples/cmc_file.py) swept over 4 β on Qwen3-4B/aime24 (100 seeds): wall time
on one local process, on ``--cpus`` local processes, and on Ray (cells of 25 seeds,
Ray's start-up not included, printed apart), whether every result's JSON is identical,
how many cells ran, and the load average (the figures are noisy on a shared machine).
``--interpreter`` runs the sweep once per interpreter (``--interpreter pypy``: the
file on PyPy workers, kept by each pool process and each Ray worker from cell to
cell); every result is compared with the CPython sweep on one local process.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from autotts.controllers.registry import ControllerSpec
from autotts.data.catalog import BENCHMARKS, MODELS
from autotts.evaluation.executors import run_jobs
from autotts.evaluation.jobs import DataRef, EvalJob, load_data
from autotts.evaluation.protocols import ReferenceProtocol
from autotts.evaluation.results import EvalResult
from autotts.evaluation.table import table_jobs
from autotts.scale import RayExecutor

ROOT = Path(__file__).resolve().parents[1]


def timed(run: Callable[[], list[EvalResult]]) -> tuple[float, list[EvalResult]]:
    started = time.perf_counter()
    results = run()
    return time.perf_counter() - started, results


def without_interpreter(result: EvalResult) -> dict[str, object]:
    """A result's JSON without the interpreter it asked for (the rest must not differ)."""
    record = result.to_dict()
    record["controller"] = {k: v for k, v in record["controller"].items() if k != "interpreter"}
    return record


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "replay")
    parser.add_argument("--cpus", type=int, default=2)
    parser.add_argument("--interpreter", nargs="+", default=["cpython"])
    parser.add_argument("--skip-table", action="store_true")
    args = parser.parse_args()
    refs = [DataRef(str(args.data), m, b) for m in MODELS for b in BENCHMARKS]
    ref = DataRef(str(args.data), "Qwen3-4B", "aime24")
    cmc_file = f"{ROOT / 'examples' / 'cmc_file.py'}:CMCFile"
    workloads: dict[str, list[EvalJob]] = {}
    if not args.skip_table:
        workloads["table (72 jobs)"] = table_jobs(refs, ReferenceProtocol(100))
    sweep = [
        EvalJob(ref, ControllerSpec(cmc_file, beta), ReferenceProtocol(100))
        for beta in (0.25, 0.5, 0.75, 1.0)
    ]
    for interpreter in args.interpreter:
        workloads[f"cmc_file.py sweep (4 β, sandboxed, {interpreter})"] = [
            replace(job, interpreter=interpreter) for job in sweep
        ]
    reference: list[dict[str, object]] | None = None
    for r in refs:
        load_data(r)  # every path reads the files once; keep that out of the timings
    started = time.perf_counter()
    ray = RayExecutor(num_cpus=args.cpus)
    ray.connect()
    print(f"Ray start-up: {time.perf_counter() - started:.1f} s ({args.cpus} CPUs)")
    try:
        for name, jobs in workloads.items():
            one, local = timed(lambda jobs=jobs: run_jobs(jobs))
            pool, pooled = timed(lambda jobs=jobs: run_jobs(jobs, workers=args.cpus))
            on_ray, remote = timed(lambda jobs=jobs: run_jobs(jobs, executor=ray))
            same = [r.to_dict() for r in remote] == [r.to_dict() for r in local]
            same_pool = [r.to_dict() for r in pooled] == [r.to_dict() for r in local]
            print(
                f"{name}: 1 process {one:.1f} s, {args.cpus} processes {pool:.1f} s, "
                f"Ray {on_ray:.1f} s in {len(ray.cell_pids)} cells; identical JSON: "
                f"Ray {same}, processes {same_pool}"
            )
            if "sweep" in name:  # every interpreter's numbers against the first one's
                numbers = [without_interpreter(r) for r in local]
                reference = reference or numbers
                print(f"  same numbers as the first sweep: {numbers == reference}")
    finally:
        ray.close()
    print("load average (1, 5, 15 min): {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))


if __name__ == "__main__":
    main()
