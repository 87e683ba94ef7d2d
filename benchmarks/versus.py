"""One discovery round (:mod:`round_cpu`) under two releases, alternately, in one run.

Run:  python benchmarks/versus.py --old PYTHON [--pairs 2] [-- ROUND_CPU_OPTIONS...]

``PYTHON`` is the interpreter of a virtualenv with the other release installed (editable,
from its own checkout), e.g. a worktree of commit ``a090c3f``::

    git worktree add ../wt-old a090c3f
    python -m venv ../venv-old && ../venv-old/bin/pip install -e '../wt-old[dev]'
    python benchmarks/versus.py --old ../venv-old/bin/python -- --workers 2 --interpreter pypy

Each pair runs the round once per release, the old one first in odd pairs and second in
even ones, so a drift of the shared machine's speed weighs on both. It prints each run,
then per release the mean CPU seconds of the check and the curves, their ratio (this
release over the other), and whether the curves' numbers were identical.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--old", required=True, help="python of the other release's virtualenv")
    parser.add_argument("--pairs", type=int, default=2)
    parser.add_argument("rest", nargs=argparse.REMAINDER, help="-- options for round_cpu.py")
    args = parser.parse_args()
    compare(args.old, [a for a in args.rest if a != "--"], args.pairs)


def compare(old_python: str, options: list[str], pairs: int) -> None:
    """Run ``round_cpu.py OPTIONS`` under ``old_python`` and this interpreter, ``pairs``
    times each, alternately; print every run and the comparison."""
    pythons = {"old": old_python, "new": sys.executable}
    runs: dict[str, list[dict[str, float]]] = {"old": [], "new": []}
    print(f"load average before: {_load()}", flush=True)
    for pair in range(pairs):
        for side in ("old", "new") if pair % 2 == 0 else ("new", "old"):
            command = [pythons[side], str(HERE / "round_cpu.py"), *options]
            done = subprocess.run(command, capture_output=True, text=True, check=False)
            lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
            if done.returncode != 0 or not lines:
                sys.exit(f"{side} failed:\n{done.stderr[-3000:]}")
            result = json.loads(lines[-1])
            runs[side].append(result)
            print(f"pair {pair + 1}, {side}: {json.dumps(result)} (load {_load()})", flush=True)
    print(f"load average after: {_load()}")
    parts = ("check", "curves", "trace_digest")
    for side in ("old", "new"):
        for r in runs[side]:
            r["round_cpu"] = sum(r.get(f"{part}_cpu", 0) for part in parts[:2])
            r["round_wall"] = sum(r.get(f"{part}_wall", 0) for part in parts)
    for part in [f"{p}_{kind}" for kind in ("cpu", "wall") for p in parts]:
        if all(part in r for side in runs.values() for r in side):
            old, new = (_mean([r[part] for r in runs[s]]) for s in ("old", "new"))
            print(f"{part}: old {old:.1f}, new {new:.1f}, new/old {new / old:.3f}")
    old, new = (_mean([r["round_cpu"] for r in runs[s]]) for s in ("old", "new"))
    print(f"round (check + curves) CPU-s: old {old:.1f}, new {new:.1f}, new/old {new / old:.3f}")
    ratios = [n["round_cpu"] / o["round_cpu"] for o, n in zip(runs["old"], runs["new"])]
    print("per pair new/old: " + ", ".join(f"{p:.3f}" for p in ratios))
    old, new = (_mean([r["round_wall"] for r in runs[s]]) for s in ("old", "new"))
    print(f"round wall (check + curves + trace digest) s: old {old:.1f}, new {new:.1f}")
    digests = {r.get("digest") for side in runs.values() for r in side}
    print(f"curves: {'identical' if len(digests) == 1 else 'DIFFERENT: ' + str(digests)}")


def _mean(values: list[float]) -> float:
    return sum(values) / len(values)


def _load() -> str:
    return ", ".join(f"{x:.2f}" for x in os.getloadavg())


if __name__ == "__main__":
    main()
