"""How long does a three-seed optimiser search take on 2 cores, and does it fit 60 minutes?

Run:  python benchmarks/optimizer_seeds.py --out RUN [--data ../shared/data/replay]
      [--budget 1500] [--search-seeds 3] [--replay-seeds 10] [--target 3600]
      python benchmarks/optimizer_seeds.py --run RUN      # measure a finished run only
      python benchmarks/optimizer_seeds.py --trials-only 5 [--replay-seeds 10]

``--trials-only K`` scores CMC's start schedule K times in this one process (one
core, the search set, the default objective) and prints each trial's seconds: the
cost of one trial without a search around it, for pricing budgets at the load of
the moment.

The first form runs ``autotts optimize --search-seeds N --workers 2 --no-heldout``
with a (reduced) time budget and then measures its run directory; the second only
measures an existing one (held-out evaluation, when the run has one, is outside
the search and not counted here). From the Optuna journal it reads every finished
trial's own seconds (``seconds``, set by the worker) and every stage's wall time
(first trial start to last trial end), and from the run's files the time after the
search: selection (the searches' picks scored at 100 replay seeds, the winner's
curves) and the rounds' checks, as the gap between the last trial and
``selection.json``.

The extrapolation is arithmetic, and printed as such: with ``w`` workers a search
stage finishes ``w / s`` trials per second (``s``: mean trial seconds measured
here, under whatever load the machine had), so a three-seed search of ``T`` trials
per search takes ``3·T·s / w`` seconds plus the measured overheads (the
per-stage worker start-up and the selection). It prints the trials per search
that fit ``--target`` seconds, and the time ``--trials`` trials per search would
take. The machine's load average is printed before and after: trial seconds scale
with it, so a number taken on a busy machine is pessimistic for an idle one.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any


def measure(run: Path) -> dict[str, Any]:
    """Trial seconds, stage wall times and the selection overhead of an optimiser run."""
    from autotts.discovery.optimizer.driver import units
    from autotts.discovery.optimizer.worker import OptimizerSettings, open_study

    meta = json.loads((run / "run.json").read_text())
    settings = OptimizerSettings.from_dict(meta["optimizer"])
    stages = []
    last_end = 0.0
    for unit in units(settings):
        study = open_study(run / "optuna.journal", settings, name=unit.study)
        done = [t for t in study.trials if t.state.name == "COMPLETE"]
        if not done:
            stages.append({"study": unit.study, "trials": 0})
            continue
        start = min(t.datetime_start.timestamp() for t in done)
        end = max(t.datetime_complete.timestamp() for t in done)
        last_end = max(last_end, end)
        seconds = [float(t.user_attrs.get("seconds", 0.0)) for t in done]
        stages.append(
            {
                "study": unit.study,
                "trials": len(done),
                "wall": end - start,
                "trial_seconds_mean": sum(seconds) / len(seconds),
                "first_trial_after_run_json": start - (run / "run.json").stat().st_mtime,
            }
        )
    selection = run / "selection.json"
    after = selection.stat().st_mtime - last_end if selection.is_file() and last_end else None
    searched = json.loads((run / "optimizer_time.json").read_text())["seconds"]
    return {
        "settings": meta["optimizer"],
        "stages": stages,
        "search_seconds": searched,
        "selection_seconds": after,
    }


def time_trials(data: str, replay_seeds: int, count: int) -> list[float]:
    """Seconds of ``count`` trials of CMC's start schedule, scored in this process."""
    from autotts.cli.common import data_refs
    from autotts.discovery.optimizer.objective import SearchData
    from autotts.discovery.optimizer.space import cmc_start, schedule_from_params
    from autotts.discovery.optimizer.worker import OptimizerSettings, TrialScorer
    from autotts.discovery.settings import split_refs
    from autotts.evaluation.jobs import load_data

    search, _ = split_refs(data_refs(data), None, None, None)
    settings = OptimizerSettings(replay_seeds=replay_seeds)
    scorer = TrialScorer(SearchData([load_data(r) for r in search], replay_seeds), settings)
    schedule = schedule_from_params(cmc_start())
    out = []
    for _ in range(count):
        started = time.perf_counter()
        scorer.score(schedule)
        out.append(time.perf_counter() - started)
    return out


def report(m: dict[str, Any], workers: int, target: float, trials: int) -> None:
    done = [s for s in m["stages"] if s["trials"]]
    n = sum(s["trials"] for s in done)
    if not n:
        print("no finished trial: nothing to measure")
        return
    mean = sum(s["trial_seconds_mean"] * s["trials"] for s in done) / n
    wall = sum(s["wall"] for s in done)
    startup = sum(s["first_trial_after_run_json"] for s in done[:1])
    searches = int(m["settings"]["search_seeds"])
    overhead = (m["selection_seconds"] or 0.0) + (m["search_seconds"] - wall)
    for s in m["stages"]:
        if s["trials"]:
            print(
                f"  {s['study']:<36s} {s['trials']:5d} trials  wall {s['wall']:7.1f} s  "
                f"mean trial {s['trial_seconds_mean']:5.2f} s"
            )
        else:
            print(f"  {s['study']:<36s}     0 trials")
    print(f"trials finished: {n}; mean trial {mean:.2f} s; stages' wall {wall:.0f} s")
    print(f"search time (workers running): {m['search_seconds']:.0f} s")
    print(f"first trial started {startup:.1f} s after run.json was written")
    sel = m["selection_seconds"]
    print(f"after the last trial until selection.json: {sel:.0f} s" if sel else "not selected")
    per_search = n / searches
    print(f"achieved: {per_search:.0f} trials per search ({n / max(wall, 1e-9):.2f} trials/s)")
    rate = workers / mean  # trials per second with every worker busy
    fit = (target - overhead) * rate / searches
    print(
        f"extrapolation (arithmetic, at this load): {workers} workers finish {rate:.2f} "
        f"trials/s; {searches} searches in {target:.0f} s minus {overhead:.0f} s overhead "
        f"fit {fit:.0f} trials per search"
    )
    need = searches * trials / rate + overhead
    print(
        f"  {trials} trials per search would take {need:.0f} s "
        f"({'fits' if need <= target else 'does not fit'} {target:.0f} s)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help="run directory to create")
    parser.add_argument("--run", type=Path, help="measure this finished run only")
    parser.add_argument("--data", default="../shared/data/replay")
    parser.add_argument("--budget", type=float, default=1500.0)
    parser.add_argument("--search-seeds", type=int, default=3)
    parser.add_argument("--replay-seeds", type=int, default=10)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--target", type=float, default=3600.0)
    parser.add_argument("--trials", type=int, default=1000, help="trials per search to price")
    parser.add_argument("--trials-only", type=int, default=0, help="time K trials, no search")
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()}")
    if args.trials_only:
        seconds = time_trials(args.data, args.replay_seeds, args.trials_only)
        print("trial seconds: " + ", ".join(f"{s:.2f}" for s in seconds))
        print(f"load average after: {os.getloadavg()}")
        return
    run = args.run
    if run is None:
        if args.out is None:
            parser.error("give --out (run a search) or --run (measure one)")
        run = args.out
        started = time.monotonic()
        cmd = [sys.executable, "-m", "autotts.cli.main", "optimize", "--out", str(run),
               "--data", args.data, "--search-seeds", str(args.search_seeds),
               "--replay-seeds", str(args.replay_seeds), "--time-budget", str(args.budget),
               "--workers", str(args.workers), "--no-heldout", "--quiet"]  # fmt: skip
        subprocess.run(cmd, check=True)
        print(f"wall time of the whole command: {time.monotonic() - started:.0f} s")
    workers = int(json.loads((run / "run.json").read_text())["optimizer"]["workers"])
    report(measure(run), workers, args.target, args.trials)
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
