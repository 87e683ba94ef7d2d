"""How long does one discovery round's evaluation take?

Run:  python benchmarks/discovery_round.py [--data ../shared/data/replay] [--workers 1]

One candidate (default: the example CMC written as a custom controller file,
which — like every proposed controller — runs episode by episode through the
session API) over the default search set (AIME24 × the four models) and β grid
(0, 0.1, …, 1: 11 values) under the reference protocol with 100 seeds: 44
evaluations of 3,000 episodes each, exactly what ``autotts discover`` runs per
accepted round. The candidate runs in the controller sandbox, as in discovery. It
prints the wall time, the CPU time of this process and its sandboxed workers (a
figure less sensitive to other load on the machine), the per-β breakdown and the
machine's load average at start, so a reader can judge the conditions.
"""

from __future__ import annotations

import argparse
import os
import resource
import time
from collections import defaultdict
from pathlib import Path

from autotts.data.catalog import MODELS, SEARCH_BENCHMARK
from autotts.discovery.curves import curve_jobs
from autotts.discovery.settings import DEFAULT_BETAS
from autotts.evaluation.jobs import DataRef, run_jobs
from autotts.evaluation.protocols import ReferenceProtocol

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "replay")
    parser.add_argument(
        "--candidate",
        default=f"{ROOT / 'examples/candidates/04_confidence_momentum.py'}:ConfidenceMomentumPort",
    )
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--seeds", type=int, default=100)
    args = parser.parse_args()
    refs = [DataRef(str(args.data), model, SEARCH_BENCHMARK) for model in MODELS]
    jobs = curve_jobs(args.candidate, refs, DEFAULT_BETAS, ReferenceProtocol(args.seeds))
    print(f"load average at start: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(
        f"{len(jobs)} evaluations ({len(DEFAULT_BETAS)} β × {len(refs)} files, "
        f"{args.seeds} seeds), workers={args.workers}"
    )
    per_beta: dict[float, float] = defaultdict(float)
    last = [time.perf_counter()]

    def done(i: int, _result: object) -> None:
        now = time.perf_counter()
        per_beta[jobs[i].spec.beta or 0.0] += now - last[0]
        last[0] = now

    wall0, cpu0 = time.perf_counter(), _cpu_with_children()
    run_jobs(jobs, workers=args.workers, on_done=done)
    wall, cpu = time.perf_counter() - wall0, _cpu_with_children() - cpu0
    print(f"wall time: {wall:.1f} s ({wall / len(jobs):.2f} s per evaluation)")
    # The candidate runs in sandboxed worker processes (and, with --workers, in pool
    # processes): their CPU counts once they have exited and been waited for.
    print(f"CPU time of this process and its finished children: {cpu:.1f} s")
    print("wall time by β (s): " + ", ".join(f"{b:g}: {t:.1f}" for b, t in per_beta.items()))


def _cpu_with_children() -> float:
    own, children = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


if __name__ == "__main__":
    main()
