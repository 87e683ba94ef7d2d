"""How much faster is `autotts table --workers 2` than `--workers 1`, in one run?

Run:  python benchmarks/table_workers.py [--data ../shared/data/replay] [--workers 1 2] [--repeat 1]

Runs the whole published table (12 replay files × 6 methods, reference protocol,
100 seeds) as the command a user types, ``autotts table --data DIR --json
--workers N``, once per worker count (``--repeat`` times each, alternating, the
best kept), and prints for each the wall time and the CPU seconds of the command's
whole process tree (sampled from /proc), then the wall-time ratio, whether every
worker count printed byte-identical JSON, and the load average before and after:
the machine may be shared, and other jobs slow every run.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

from proc_cpu import TreeCpu  # beside this script

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "replay")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    print(f"load average before: {_load()}")
    best: dict[int, tuple[float, float]] = {}
    outputs: dict[int, bytes] = {}
    for _ in range(args.repeat):
        for workers in args.workers:
            wall, cpu, out = _table(args.data, workers)
            print(f"workers={workers}: wall {wall:.2f} s, CPU of the process tree {cpu:.2f} s")
            if workers not in best or wall < best[workers][0]:
                best[workers] = (wall, cpu)
            outputs[workers] = out
    print(f"load average after: {_load()}")
    first = args.workers[0]
    for workers in args.workers[1:]:
        same = outputs[workers] == outputs[first]
        ratio = best[first][0] / best[workers][0]
        print(
            f"workers={workers} vs workers={first}: {ratio:.2f}x faster (best wall of "
            f"{args.repeat}), JSON {'byte-identical' if same else 'DIFFERENT'}"
        )


def _table(data: Path, workers: int) -> tuple[float, float, bytes]:
    command = [
        sys.executable, "-m", "autotts.cli.main", "table", "--data", str(data),
        "--json", "--quiet", "--workers", str(workers),
    ]  # fmt: skip
    start = time.perf_counter()
    with TreeCpu() as cpu:
        done = subprocess.run(command, capture_output=True, check=False)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"autotts table failed: {done.stderr.decode(errors='replace')[-500:]}")
    return wall, cpu.seconds, done.stdout


def _load() -> str:
    return ", ".join(f"{x:.2f}" for x in os.getloadavg())


if __name__ == "__main__":
    main()
