"""How long does one discovery round's evaluation take, on 1 and on 2 worker processes?

Run:  python benchmarks/discovery_round.py [--data ../shared/data/replay] [--workers 1 2]
      [--interpreter cpython pypy] [--audits 0 1] [--check] [--floor] [--race]

One candidate (default: the example CMC written as a custom controller file,
which — like every proposed controller — runs episode by episode through the
session API) over the default search set (AIME24 × the four models) and β grid
(0, 0.1, …, 1: 11 values) under the reference protocol with 100 seeds: 44
evaluations of 3,000 episodes each, exactly what ``autotts discover`` runs per
accepted round. The candidate runs in the controller sandbox, as in discovery.

The round runs once per ``--workers`` value, in this one process run, so the
speed-up between them is measured under the same conditions. For each it prints
the wall time, the CPU seconds of the whole process tree (this process, the pool
processes and the sandboxed workers, sampled from /proc: ``getrusage`` cannot see
the sandboxed workers) and the wall time by β; then the ratio of wall times, a
check that every worker count gave identical results, and the machine's load
average before and after (other jobs on the machine slow both runs). ``--floor``
adds the CPU time of the candidate's own code alone over the same cells (every read
a bare ``next()``): a lower bound on the round's CPU, whatever the environment does.

``--interpreter cpython pypy`` measures the round with the candidate on each
interpreter (``autotts discover --interpreter``, :mod:`autotts.evaluation.interpreters`),
for every ``--workers`` value, and compares every result with the first one's.

``--audits 0 1`` measures the round with each number of audited seeds per cell
(``$AUTOTTS_AUDITS``, :mod:`autotts.evaluation.audit`; 0 turns the audit off), in this
one run, so the audit's cost is a ratio of two measurements taken side by side.
``--check`` adds the round's acceptance check (``autotts check`` on the search set
with the round's β grid and one seed, as ``autotts discover`` runs it) to each
measurement, timed apart.

With ``--race`` the round is raced (``autotts discover --race``,
:mod:`autotts.discovery.racing`) against an incumbent: the best mean search-set
accuracy over the same grid of the built-in CMC (vectorised, computed first in the
same run). It prints how many seeds each round ran and whether it was stopped; a
candidate that is not stopped gives the numbers of an unraced round.
"""

from __future__ import annotations

import argparse
import os
import time
from collections import defaultdict
from dataclasses import replace
from pathlib import Path

from file_speed import controller_only  # beside this script
from proc_cpu import TreeCpu

from autotts.checking import check_controller
from autotts.controllers.registry import load_controller_class
from autotts.data.catalog import MODELS, SEARCH_BENCHMARK
from autotts.discovery.curves import aggregate, best_point, curve_jobs, evaluate_curves
from autotts.discovery.loop import DISCOVERY_CHECK_AUDITS
from autotts.discovery.racing import race_curves
from autotts.discovery.settings import DEFAULT_BETAS
from autotts.evaluation.executors import run_jobs
from autotts.evaluation.jobs import DataRef, EvalJob, load_data
from autotts.evaluation.protocols import ReferenceProtocol
from autotts.evaluation.results import EvalResult
from autotts.sandbox.interpreter import INTERPRETERS

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "replay")
    parser.add_argument(
        "--candidate",
        default=f"{ROOT / 'examples/candidates/04_confidence_momentum.py'}:ConfidenceMomentumPort",
    )
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--seeds", type=int, default=100)
    parser.add_argument("--race", action="store_true", help="race against the built-in CMC")
    parser.add_argument(
        "--floor",
        action="store_true",
        help="also time the candidate's own code alone over the round (a lower bound)",
    )
    parser.add_argument(
        "--interpreter",
        nargs="+",
        default=["cpython"],
        choices=INTERPRETERS,
        help="what runs the candidate in its workers (each one measured, in this order)",
    )
    parser.add_argument(
        "--audits",
        type=int,
        nargs="+",
        default=[int(os.environ.get("AUTOTTS_AUDITS", "1"))],
        help="audited seeds per cell (each value measured, in this order; 0: no audit)",
    )
    parser.add_argument(
        "--check", action="store_true", help="also time the round's check of the candidate"
    )
    args = parser.parse_args()
    refs = [DataRef(str(args.data), model, SEARCH_BENCHMARK) for model in MODELS]
    protocol = ReferenceProtocol(args.seeds)
    jobs = curve_jobs(args.candidate, refs, DEFAULT_BETAS, protocol)
    print(f"load average before: {_load()}")
    print(
        f"{len(jobs)} evaluations ({len(DEFAULT_BETAS)} β × {len(refs)} files, {args.seeds} seeds)"
    )
    incumbent = None
    if args.race:
        baseline = evaluate_curves(curve_jobs("cmc", refs, DEFAULT_BETAS, protocol))
        best = best_point(aggregate(baseline))
        assert best is not None
        incumbent = float(best.accuracy)
        print(f"racing against the built-in CMC's best: {incumbent:.2f} % at β={best.beta:g}")
    walls: dict[tuple[str, int], float] = {}
    outputs: dict[tuple[str, int], list[EvalResult]] = {}
    for audits in args.audits:
        # Read by every evaluating process (the pool's are started after this).
        os.environ["AUTOTTS_AUDITS"] = str(audits)
        for interpreter in args.interpreter:
            on = [replace(job, interpreter=interpreter) for job in jobs]
            for workers in args.workers:
                tag = f"[{interpreter}, audits={audits}]"
                if args.check:
                    _check(args.candidate, refs, tag)
                print(tag, end=" ")
                key = (interpreter, workers, audits)
                walls[key], outputs[key] = _one_round(on, workers, incumbent)
    if args.floor:
        _floor(args.candidate, jobs, protocol, max(args.workers))
    print(f"load average after: {_load()}")
    first = (args.interpreter[0], args.workers[0], args.audits[0])
    for key in list(walls)[1:]:
        same = [r.metrics for r in outputs[key]] == [r.metrics for r in outputs[first]]
        print(
            f"{key[0]}, workers={key[1]}, audits={key[2]} vs {first[0]}, workers={first[1]}, "
            f"audits={first[2]}: {walls[first] / walls[key]:.2f}x faster (wall), "
            f"CPU {CPU[key] / CPU[first]:.2f}x, results {'identical' if same else 'DIFFERENT'}"
        )


#: CPU seconds of the process tree per measured round (key: interpreter, workers, audits)
CPU: dict[tuple[str, int, int], float] = {}


def _check(candidate: str, refs: list[DataRef], tag: str) -> None:
    """The round's check of the candidate (as discover runs it), timed."""
    wall0 = time.perf_counter()
    with TreeCpu() as cpu:
        report = check_controller(
            candidate, refs, betas=DEFAULT_BETAS, seeds=1, audited_cells=DISCOVERY_CHECK_AUDITS
        )
    print(
        f"{tag} check: {report.verdict}, wall {time.perf_counter() - wall0:.1f} s, "
        f"CPU of the process tree {cpu.seconds:.1f} s"
    )


def _one_round(
    jobs: list[EvalJob], workers: int, incumbent: float | None
) -> tuple[float, list[EvalResult]]:
    per_beta: dict[float, float] = defaultdict(float)
    last = [time.perf_counter()]

    def done(i: int, _result: object) -> None:
        now = time.perf_counter()
        per_beta[jobs[i].spec.beta or 0.0] += now - last[0]
        last[0] = now

    wall0 = time.perf_counter()
    raced = ""
    with TreeCpu() as cpu:
        if incumbent is None:
            results = run_jobs(jobs, workers=workers, on_done=done)
        else:
            outcome = race_curves(jobs, incumbent, workers=workers)
            results = outcome.results
            raced = (
                f", raced: {outcome.seeds_run} of {outcome.seeds_total} seeds, "
                f"{'stopped' if outcome.stopped else 'not stopped'}"
            )
    wall = time.perf_counter() - wall0
    CPU[(jobs[0].interpreter, workers, int(os.environ.get("AUTOTTS_AUDITS", "1")))] = cpu.seconds
    print(
        f"workers={workers}: wall {wall:.1f} s ({wall / len(jobs):.2f} s per evaluation), "
        f"CPU of the process tree {cpu.seconds:.1f} s, load average now {_load()}{raced}"
    )
    if incumbent is not None:
        return wall, results  # the blocks finish interleaved: no per-β breakdown
    print(
        "  wall time by β (s, time between completions): "
        + ", ".join(f"{b:g}: {t:.1f}" for b, t in sorted(per_beta.items()))
    )
    return wall, results


def _floor(candidate: str, jobs: list[EvalJob], protocol: ReferenceProtocol, cores: int) -> None:
    """The candidate's own code over every cell of the round, in this process, with each
    read cut to a bare ``next()`` (file_speed's ``controller_only``): however the round
    is run, it cannot take less than this CPU time spread over ``cores``."""
    cls = load_controller_class(candidate, trusted=True)
    replays = {job.data: load_data(job.data) for job in jobs}
    started = time.process_time()
    for job in jobs:
        controller_only(cls(job.spec.beta), replays[job.data], protocol)
    own = time.process_time() - started
    print(
        f"the candidate's own code alone over the round: {own:.1f} CPU-s, so at least "
        f"{own / cores:.1f} s wall on {cores} cores"
    )


def _load() -> str:
    return ", ".join(f"{x:.2f}" for x in os.getloadavg())


if __name__ == "__main__":
    main()
