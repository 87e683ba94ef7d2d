"""The built-in CMC's fast path under two releases, alternately, in one run.

Run:  python benchmarks/one_cmc.py --old PYTHON [--old-path SRC] [--pairs 6]
                                   [--files Qwen3-4B/aime24,...] [--betas 0,0.25,...] [--seeds 100]

``PYTHON`` is the interpreter of a virtualenv with the other release installed, e.g.
``/work/venv/bin/python`` (the main checkout, editable). ``--old-path SRC`` puts a
release's ``src`` folder first on that interpreter's ``PYTHONPATH`` instead, e.g. an
exported commit, so a checkout being edited does not matter::

    mkdir ../old && git archive aa09ded | tar -x -C ../old
    python benchmarks/one_cmc.py --old .venv/bin/python --old-path ../old/src

Every run replays the same cells (replay file × β, the reference protocol's ``--seeds``
seeds, every question) through ``ConfidenceMomentum(beta).vectorised()``, whatever that
is in the release: the dedicated kernel ``controllers/vectorised/cmc.py`` up to issue
20, the composable kernel after. Only the kernel calls are timed (CPU seconds; loading
and batch building are not), after one untimed warm-up call. Each pair runs both
releases once, the old one first in odd pairs and second in even ones, so a drift of
the shared machine's speed weighs on both. It prints every run, then per release the
mean CPU seconds, their ratio (new over old), the ratio of every pair and their
median, per-β totals, and whether every cell's answers, tokens and sequential tokens
were identical.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve()
DATA = HERE.parents[2] / "shared" / "data" / "replay"
FILES = "Qwen3-4B/aime24,Qwen3-4B/aime25,Qwen3-4B/hmmt25"
BETAS = "0,0.25,0.5,0.75,1"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--old", help="python of the other release's virtualenv")
    parser.add_argument("--old-path", help="that release's src folder (put on PYTHONPATH)")
    parser.add_argument("--pairs", type=int, default=6)
    parser.add_argument("--data", default=str(DATA))
    parser.add_argument("--files", default=FILES, help="MODEL/BENCHMARK,...")
    parser.add_argument("--betas", default=BETAS)
    parser.add_argument("--seeds", type=int, default=100)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    cells = [args.data, args.files, args.betas, str(args.seeds)]
    if args.worker:
        print(json.dumps(run_cells(*cells)))
    elif args.old is None:
        parser.error("--old is required")
    else:
        compare(args.old, args.old_path, cells, args.pairs)


def run_cells(data: str, files: str, betas: str, seeds: str) -> dict[str, object]:
    """Time ``ConfidenceMomentum(beta).vectorised()`` on every cell (in the release this
    interpreter imports); returns per-cell CPU seconds and a digest of every outcome."""
    import numpy as np

    import autotts
    from autotts.controllers.cmc import ConfidenceMomentum
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
            question_of = np.broadcast_to(np.asarray(members), orders.shape[:2]).reshape(-1)
            flat_orders = orders.reshape(-1, orders.shape[2])
            batches.append((name, EpisodeBatch.build(replay, question_of, flat_orders)))
    kernels = [(float(b), ConfidenceMomentum(float(b)).vectorised()) for b in betas.split(",")]
    kernels[0][1](batches[0][1])  # warm-up: imports, the confidence table
    times: dict[str, float] = {}
    digest = hashlib.sha256()
    for name, batch in batches:
        for beta, kernel in kernels:
            start = time.process_time()
            out = kernel(batch)
            key = f"{name} beta={beta}"
            times[key] = times.get(key, 0.0) + time.process_time() - start
            for array in (out.answer, out.cost, out.sequential_cost):
                digest.update(np.ascontiguousarray(array, dtype=np.float64).tobytes())
    return {
        "source": str(Path(autotts.__file__).parent),
        "cpu": sum(times.values()),
        "cells": times,
        "digest": digest.hexdigest(),
    }


def compare(old_python: str, old_path: str | None, cells: list[str], pairs: int) -> None:
    """Run the cells under the old release and this one, ``pairs`` times each, alternately."""
    command = [str(HERE), "--worker", "--data", cells[0], "--files", cells[1]]
    command += ["--betas", cells[2], "--seeds", cells[3]]
    env_old = dict(os.environ)
    if old_path:
        env_old["PYTHONPATH"] = os.pathsep.join([old_path, env_old.get("PYTHONPATH", "")])
    sides = {"old": (old_python, env_old), "new": (sys.executable, dict(os.environ))}
    runs: dict[str, list[dict[str, object]]] = {"old": [], "new": []}
    print(f"cells: {cells[1]} x beta {cells[2]}, {cells[3]} seeds", flush=True)
    print(f"load average before: {_load()}", flush=True)
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
            print(
                f"pair {pair + 1}, {side}: {result['cpu']:.3f} CPU-s from {result['source']} "
                f"(load {_load()})",
                flush=True,
            )
    print(f"load average after: {_load()}")
    old, new = (_mean([float(r["cpu"]) for r in runs[s]]) for s in ("old", "new"))  # type: ignore[arg-type]
    print(f"kernel CPU-s per run: old {old:.3f}, new {new:.3f}, new/old {new / old:.3f}")
    ratios = [float(n["cpu"]) / float(o["cpu"]) for o, n in zip(runs["old"], runs["new"])]  # type: ignore[arg-type]
    print("per pair new/old: " + ", ".join(f"{p:.3f}" for p in ratios))
    print(f"median pair new/old: {statistics.median(ratios):.3f}")
    by_beta: dict[str, dict[str, float]] = {}
    for side in ("old", "new"):
        for r in runs[side]:
            for key, seconds in r["cells"].items():  # type: ignore[attr-defined]
                beta = key.rsplit(" ", 1)[1]
                by_beta.setdefault(beta, {"old": 0.0, "new": 0.0})[side] += seconds / pairs
    for beta, t in by_beta.items():
        ratio = t["new"] / t["old"]
        print(f"  {beta:<10} old {t['old']:.3f}, new {t['new']:.3f}, new/old {ratio:.3f}")
    digests = {str(r["digest"]) for side in runs.values() for r in side}
    print(f"outcomes: {'identical' if len(digests) == 1 else 'DIFFERENT: ' + str(digests)}")


def _mean(values: list[float]) -> float:
    return sum(values) / len(values)


def _load() -> str:
    return ", ".join(f"{x:.2f}" for x in os.getloadavg())


if __name__ == "__main__":
    main()
