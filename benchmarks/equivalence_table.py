"""The published table with string-equality scoring beside math-equivalence scoring.

Run:  python benchmarks/equivalence_table.py [--data ../shared/data/replay] [--workers 2]
      [--models Qwen3-4B,Qwen3-8B]

Equivalent to running ``autotts table --json`` twice, once with ``--answers
equivalence``, and joining the rows. Under equivalence, answers that math-verify
finds equal (``\\frac{9\\sqrt{23}}{23}`` and ``\\frac{9 \\sqrt{23}}{23}``) vote and score
as one, for every controller. Prints a Markdown table (accuracy and tokens under
both, and the accuracy change) and the time each part took; the equivalence
classes are computed once per file and cached (see ``autotts.data.equivalence``),
so the first run also reports that one-time cost.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace

from autotts.data.catalog import list_store, resolve_data_dir
from autotts.data.equivalence import prepare
from autotts.evaluation.executors import run_jobs
from autotts.evaluation.jobs import DataRef, load_data
from autotts.evaluation.protocols import ReferenceProtocol
from autotts.evaluation.table import table_jobs, table_rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="../shared/data/replay")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--models", default="", help="comma-separated; default: all")
    args = parser.parse_args()
    store = resolve_data_dir(args.data)
    models = [m for m in args.models.split(",") if m]
    refs = [
        DataRef(str(store), f.model, f.benchmark)
        for f in list_store(store)
        if not models or f.model in models
    ]

    start = time.perf_counter()
    prepare([load_data(ref) for ref in refs], workers=args.workers)
    classes_s = time.perf_counter() - start

    rows = {}
    timings = {}
    for mode in ("string", "equivalence"):
        start = time.perf_counter()
        jobs = table_jobs([replace(ref, answers=mode) for ref in refs], ReferenceProtocol())
        rows[mode] = table_rows(run_jobs(jobs, workers=args.workers))
        timings[mode] = time.perf_counter() - start

    print(
        "| model | benchmark | method | acc. string | acc. equivalence | Δ acc. "
        "| tokens string | tokens equivalence |"
    )
    print("|---|---|---|---:|---:|---:|---:|---:|")
    for s, e in zip(rows["string"], rows["equivalence"]):
        print(
            f"| {s['model']} | {s['benchmark']} | {s['method']} | {s['accuracy']:.2f} "
            f"| {e['accuracy']:.2f} | {e['accuracy'] - s['accuracy']:+.2f} "
            f"| {s['tokens'] / 1000:.1f}k | {e['tokens'] / 1000:.1f}k |"
        )
    changed = sum(
        s["accuracy"] != e["accuracy"] for s, e in zip(rows["string"], rows["equivalence"])
    )
    mean = sum(e["accuracy"] - s["accuracy"] for s, e in zip(rows["string"], rows["equivalence"]))
    print(
        f"\n{changed} of {len(rows['string'])} rows change; mean accuracy change "
        f"{mean / len(rows['string']):+.2f} points"
    )
    print(
        f"equivalence classes: {classes_s:.1f} s (0 when cached); table with string "
        f"equality: {timings['string']:.1f} s; with equivalence: {timings['equivalence']:.1f} s "
        f"({args.workers} workers)"
    )


if __name__ == "__main__":
    main()
