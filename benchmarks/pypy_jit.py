"""Does the PyPy worker's JIT setting (``sandbox.layers.JIT_OPTIONS``) pay?

Run:  python benchmarks/pypy_jit.py [--data ../shared/data/replay] [--pairs 3]

One kept PyPy worker (``--interpreter pypy``) runs the CMC-shaped example file over
12 cells (β 1.0, 0.9, …, 0.5 × Qwen3-4B and Qwen3-8B on AIME24, 100 seeds), as a
worker does early in a discovery round, where its JIT is still warming up. It does
so once with PyPy's default JIT thresholds and once with ``JIT_OPTIONS``, in
``--pairs`` alternating pairs (this machine's speed drifts), and prints the CPU
seconds of the whole run (this process and the worker) per cell and in total.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from autotts.evaluation.jobs import DataRef, load_data
from autotts.evaluation.protocols import ReferenceProtocol
from autotts.evaluation.sandboxed import run_in_sandbox
from autotts.sandbox import SandboxLimits, SandboxWorker, layers, read_candidate
from autotts.sandbox.layers import pypy_path

ROOT = Path(__file__).resolve().parents[1]
FILE = ROOT / "examples" / "candidates" / "04_confidence_momentum.py"
BETAS = (1.0, 0.9, 0.8, 0.7, 0.6, 0.5)


def cells(data: Path, jit: str) -> list[float]:
    """CPU seconds of each cell on one kept PyPy worker started with ``jit``."""
    layers.JIT_OPTIONS = jit
    candidate = read_candidate(str(FILE))
    replays = [load_data(DataRef(str(data), m, "aime24")) for m in ("Qwen3-4B", "Qwen3-8B")]
    protocol = ReferenceProtocol(100)
    out = []
    with SandboxWorker(SandboxLimits(interpreter="pypy")) as worker:
        for beta in BETAS:
            for replay in replays:
                before, started = worker.reported_cpu_seconds, time.process_time()
                worker.load(candidate.source, str(candidate.path), candidate.class_name)
                run_in_sandbox(candidate, replay, protocol, beta=beta, worker=worker)
                out.append(time.process_time() - started + worker.reported_cpu_seconds - before)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "replay")
    parser.add_argument("--pairs", type=int, default=3)
    args = parser.parse_args()
    if pypy_path() is None:
        raise SystemExit("pypy_jit: no pypy3 on PATH")
    chosen = layers.JIT_OPTIONS
    totals: dict[str, list[float]] = {"default": [], chosen: []}
    for _ in range(args.pairs):
        for jit in ("", chosen):
            got = cells(args.data, jit)
            totals[jit or "default"].append(sum(got))
            print(
                f"{jit or 'default':<58} {sum(got):6.1f} CPU-s: "
                + " ".join(f"{c:.2f}" for c in got)
            )
    for name, runs in totals.items():
        print(f"{name:<58} mean {sum(runs) / len(runs):6.1f} CPU-s over {len(runs)} runs")
    ratio = sum(totals["default"]) / sum(totals[chosen])
    print(f"default / chosen: {ratio:.2f}x")


if __name__ == "__main__":
    main()
