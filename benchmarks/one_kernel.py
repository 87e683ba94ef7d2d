"""The built-ins' fast paths and ``autotts table`` under two releases, alternately, in one run.

Run:  python benchmarks/one_kernel.py --old PYTHON [--old-path SRC] [--pairs 6]
                                      [--controllers sc,asc,esc,parallel-probe,cmc]
                                      [--files Qwen3-4B/aime24,...] [--betas 0,0.25,...]
                                      [--seeds 100] [--table-pairs 3]

``PYTHON`` is the interpreter of a virtualenv with the other release installed, e.g. a
frozen worktree of the commit a branch started from, installed editable in a virtualenv
of its own::

    git worktree add ../old <commit> --detach
    python -m venv ../venv-old && ../venv-old/bin/pip install -e ../old
    python benchmarks/one_kernel.py --old ../venv-old/bin/python

``--old-path SRC`` puts a release's ``src`` folder first on that interpreter's
``PYTHONPATH`` instead (e.g. ``git archive <commit> | tar -x -C ../old``, then
``--old-path ../old/src``).

Kernels: every run replays the same cells (replay file × β, the reference protocol's
``--seeds`` seeds, every question) through ``build(ControllerSpec(name, beta=β))
.vectorised()`` of every built-in named, whatever that is in the release: up to issue 20
the dedicated kernels of ``controllers/vectorised/`` (SC, ASC, ESC, Parallel-Probe; CMC's
until its own switch), after it the composable kernel on each built-in's settings as
parts. At β = 1 every built-in has the settings of its row in the published table. Only
the kernel calls are timed (CPU seconds; loading and batch building are not), after one
untimed warm-up call of each kernel. Each pair runs both releases once, the old one first
in odd pairs and second in even ones, so a drift of the shared machine's speed weighs on
both. It prints every run, then per built-in the mean CPU seconds of each release, their
ratio (new over old), every pair's ratio and their median, the ratio per β, and whether
every cell's answers, tokens and sequential tokens were identical.

Table: ``--table-pairs N`` then runs ``autotts table --workers 1 --json`` (the command a
user types, on the same data and seeds) N times per release, alternately likewise, and
prints the wall and CPU seconds (the child process's user + system time) of each, their
ratios, and whether both printed byte-identical JSON.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve()
DATA = HERE.parents[2] / "shared" / "data" / "replay"
FILES = "Qwen3-4B/aime24,Qwen3-4B/aime25,Qwen3-4B/hmmt25"
BETAS = "0,0.25,0.5,0.75,1"
CONTROLLERS = "sc,asc,esc,parallel-probe,cmc"
# release -> (its python, its environment)
Sides = dict[str, tuple[str, dict[str, str]]]
# `autotts table` as its console script runs it, for an interpreter given by path
TABLE = "import sys; from autotts.cli.main import main; sys.argv[0] = 'autotts'; sys.exit(main())"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--old", help="python of the other release's virtualenv")
    parser.add_argument("--old-path", help="that release's src folder (put on PYTHONPATH)")
    parser.add_argument("--pairs", type=int, default=6, help="pairs of kernel runs")
    parser.add_argument("--table-pairs", type=int, default=0, help="pairs of table runs")
    parser.add_argument("--data", default=str(DATA))
    parser.add_argument("--controllers", default=CONTROLLERS)
    parser.add_argument("--files", default=FILES, help="MODEL/BENCHMARK,...")
    parser.add_argument("--betas", default=BETAS)
    parser.add_argument("--seeds", type=int, default=100)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    cells = [args.data, args.controllers, args.files, args.betas, str(args.seeds)]
    if args.worker:
        print(json.dumps(run_cells(*cells)))
        return
    if args.old is None:
        parser.error("--old is required")
    env_old = dict(os.environ)
    if args.old_path:
        env_old["PYTHONPATH"] = os.pathsep.join([args.old_path, env_old.get("PYTHONPATH", "")])
    sides: Sides = {"old": (args.old, env_old), "new": (sys.executable, dict(os.environ))}
    print(f"load average before: {_load()}", flush=True)
    if args.pairs:
        compare_kernels(sides, cells, args.pairs)
    if args.table_pairs:
        compare_tables(sides, args.data, args.seeds, args.table_pairs)
    print(f"load average after: {_load()}")


def run_cells(data: str, controllers: str, files: str, betas: str, seeds: str) -> dict[str, Any]:
    """Time every named built-in's ``vectorised()`` on every cell (in the release this
    interpreter imports); returns per-cell CPU seconds and a digest of every outcome,
    per built-in."""
    import numpy as np

    import autotts
    from autotts.controllers.registry import ControllerSpec, build
    from autotts.data.loading import load_replay
    from autotts.env.batch import EpisodeBatch
    from autotts.evaluation.protocols import ReferenceProtocol

    protocol = ReferenceProtocol(seeds=int(seeds))
    batches = []
    for name in files.split(","):
        model, benchmark = name.split("/")
        replay = load_replay(Path(data) / model / f"{benchmark}.json")
        # as evaluation.runner builds them: questions with equally many branches together
        groups: dict[int, list[int]] = {}
        for q, question in enumerate(replay.questions):
            groups.setdefault(question.n_branches, []).append(q)
        for n_branches, members in groups.items():
            orders = np.stack([protocol.orders(n_branches, q) for q in members], axis=1)
            batches.append((name, EpisodeBatch.replicated(replay, members, orders)[0]))
    kernels = []
    for controller in controllers.split(","):
        for beta in betas.split(","):
            kernel = build(ControllerSpec(controller, beta=float(beta))).vectorised()
            assert kernel is not None, controller
            kernel(batches[0][1])  # warm-up: imports, the confidence table
            kernels.append((controller, float(beta), kernel))
    times: dict[str, float] = {}
    digests = {c: hashlib.sha256() for c in controllers.split(",")}
    for name, batch in batches:
        for controller, beta, kernel in kernels:
            start = time.process_time()
            out = kernel(batch)
            key = f"{controller} {name} beta={beta}"
            times[key] = times.get(key, 0.0) + time.process_time() - start
            for array in (out.answer, out.cost, out.sequential_cost):
                digests[controller].update(np.ascontiguousarray(array, np.float64).tobytes())
    return {
        "source": str(Path(autotts.__file__).parent),
        "cells": times,
        "digests": {c: d.hexdigest() for c, d in digests.items()},
    }


def compare_kernels(sides: Sides, cells: list[str], pairs: int) -> None:
    """Run the kernel cells under both releases, ``pairs`` times each, alternately."""
    command = [str(HERE), "--worker", "--data", cells[0], "--controllers", cells[1]]
    command += ["--files", cells[2], "--betas", cells[3], "--seeds", cells[4]]
    runs: dict[str, list[dict[str, Any]]] = {"old": [], "new": []}
    print(f"kernels: {cells[1]} on {cells[2]} x beta {cells[3]}, {cells[4]} seeds", flush=True)
    for pair in range(pairs):
        for side in ("old", "new") if pair % 2 == 0 else ("new", "old"):
            python, env = sides[side]
            done = subprocess.run(
                [python, *command], capture_output=True, text=True, env=env, check=False
            )
            lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
            if done.returncode != 0 or not lines:
                sys.exit(f"{side} failed:\n{done.stderr[-3000:]}")
            result = json.loads(lines[-1])
            runs[side].append(result)
            total = sum(result["cells"].values())
            print(
                f"pair {pair + 1}, {side}: {total:.3f} kernel CPU-s from {result['source']} "
                f"(load {_load()})",
                flush=True,
            )

    def cpu(run: dict[str, Any], controller: str, beta: str = "") -> float:
        return sum(
            seconds
            for key, seconds in run["cells"].items()
            if key.split(" ")[0] == controller and key.endswith(beta)
        )

    betas = [f"beta={float(b)}" for b in cells[3].split(",")]
    print(f"{'':<16}{'old CPU-s':>10}{'new CPU-s':>10}{'new/old':>9}  per pair; per beta")
    for controller in [*cells[1].split(","), "all"]:
        names = cells[1].split(",") if controller == "all" else [controller]
        old_runs = [sum(cpu(r, c) for c in names) for r in runs["old"]]
        new_runs = [sum(cpu(r, c) for c in names) for r in runs["new"]]
        pair_ratios = [n / o for o, n in zip(old_runs, new_runs)]
        old, new = statistics.mean(old_runs), statistics.mean(new_runs)
        line = f"{controller:<16}{old:>10.3f}{new:>10.3f}{new / old:>9.3f}  "
        line += f"median {statistics.median(pair_ratios):.3f} ("
        line += ", ".join(f"{p:.2f}" for p in pair_ratios) + ")"
        if controller != "all":
            per_beta = []
            for beta in betas:
                o = sum(cpu(r, controller, beta) for r in runs["old"])
                n = sum(cpu(r, controller, beta) for r in runs["new"])
                per_beta.append(f"{beta.split('=')[1]}: {n / o:.2f}")
            line += "; " + ", ".join(per_beta)
            digests = {r["digests"][controller] for side in runs.values() for r in side}
            line += "; outcomes " + ("identical" if len(digests) == 1 else "DIFFERENT")
        print(line, flush=True)


def compare_tables(sides: Sides, data: str, seeds: int, pairs: int) -> None:
    """Run ``autotts table --workers 1 --json`` under both releases, ``pairs`` times each,
    alternately: wall and CPU seconds, and whether the outputs are byte-identical."""
    args = ["table", "--workers", "1", "--quiet", "--json", "--data", data, "--seeds", str(seeds)]
    walls: dict[str, list[float]] = {"old": [], "new": []}
    cpus: dict[str, list[float]] = {"old": [], "new": []}
    outputs: set[str] = set()
    print(f"table: autotts {' '.join(args)}", flush=True)
    for pair in range(pairs):
        for side in ("old", "new") if pair % 2 == 0 else ("new", "old"):
            python, env = sides[side]
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            start = time.perf_counter()
            done = subprocess.run(
                [python, "-c", TABLE, *args], capture_output=True, text=True, env=env, check=False
            )
            wall = time.perf_counter() - start
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            if done.returncode != 0:
                sys.exit(f"{side} table failed:\n{done.stderr[-3000:]}")
            cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
            walls[side].append(wall)
            cpus[side].append(cpu)
            outputs.add(done.stdout)
            print(f"pair {pair + 1}, {side}: {wall:.2f} s wall, {cpu:.2f} CPU-s (load {_load()})")
    for name, values in (("wall", walls), ("CPU", cpus)):
        old, new = statistics.mean(values["old"]), statistics.mean(values["new"])
        ratios = [n / o for o, n in zip(values["old"], values["new"])]
        print(
            f"table {name} s: old {old:.2f}, new {new:.2f}, new/old {new / old:.3f}; median pair "
            f"{statistics.median(ratios):.3f} (" + ", ".join(f"{r:.2f}" for r in ratios) + ")"
        )
    print(f"table output: {'byte-identical' if len(outputs) == 1 else 'DIFFERENT'}")


def _load() -> str:
    return ", ".join(f"{x:.2f}" for x in os.getloadavg())


if __name__ == "__main__":
    main()
