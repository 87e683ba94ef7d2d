"""How much can a controller family gain over CMC on the held-out files at all? An
in-sample ceiling: the optimiser searches *on* the files it is then scored on.

Run:  autotts optimize --out RUN --search-benchmarks aime25,hmmt25 --heldout-benchmarks aime24
          [--fix-parts ...] [...]
      python benchmarks/optimizer_ceiling.py --run RUN [--out ceiling.json] [--seeds 100]

Also: ``--files heldout [--benchmarks B,...]`` scores a run's pick on some of its own
held-out files, after its ``heldout.json`` exists (a transfer run's held-out set holds
every benchmark of the models it never searched; ``--benchmarks aime25,hmmt25`` gives
the part that no model was searched on). That is the run's held-out comparison on a
subset of its files, not a ceiling, and chooses nothing either.

The run searches on the benchmarks that are normally held out, so its winner has seen
every question it is scored on here; this script compares that winner with CMC on the
run's own search files exactly as a held-out evaluation compares a winner
(:func:`~autotts.discovery.optimizer.heldout.compare_on`: at CMC β = 0.5's and 1.0's
token budgets, at the β the search chose for each, with a paired bootstrap 95 % interval
that draws each question once for every model). Every number it prints is optimistic
by construction: it bounds from above what a search over that family, run on other
questions, could show on these. It is a diagnostic of the family and the data, never a
result, and nothing reads it to choose a controller.
"""

from __future__ import annotations

import argparse
import json
import sys
from functools import partial
from pathlib import Path

from autotts.controllers.composable import BetaSchedule, Composed
from autotts.discovery.optimizer.heldout import compare_on, summary_lines
from autotts.discovery.rundir import RunDir
from autotts.discovery.settings import DiscoverySettings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", required=True, help="an autotts optimize run directory")
    parser.add_argument("--out", help="write the comparison here as JSON")
    parser.add_argument("--seeds", type=int, default=100, help="reference-protocol seeds")
    parser.add_argument(
        "--files", choices=("search", "heldout"), default="search", help="which of the run's files"
    )
    parser.add_argument("--benchmarks", help="only these benchmarks of them (comma-separated)")
    args = parser.parse_args()
    run = RunDir(args.run)
    selection = run.read_json("selection.json")
    if selection.get("round") is None:
        sys.exit(f"{args.run} selected no controller")
    settings = DiscoverySettings.from_run_json(run.settings())
    if args.files == "heldout" and not run.file("heldout.json").exists():
        sys.exit(f"{args.run} has no heldout.json yet: its held-out files stay closed")
    files = settings.search if args.files == "search" else settings.heldout
    if args.benchmarks:
        files = [ref for ref in files if ref.benchmark in args.benchmarks.split(",")]
    if not files:
        sys.exit(f"no {args.files} file of {args.run} is of {args.benchmarks}")
    schedule = BetaSchedule.from_dict(selection["schedule"])

    def progress(event: dict[str, object]) -> None:
        if event.get("done") == event.get("total"):
            print(f"{event['done']} of {event['total']} curve points", flush=True)

    in_sample = args.files == "search"
    label = "in-sample winner" if in_sample else "winner"
    make = partial(Composed, schedule)
    payload = compare_on(files, make, selection, args.seeds, progress, label=label)
    payload["ceiling"] = {
        "run": str(Path(args.run).resolve()),
        "trial": selection.get("trial"),
        "scored_on": sorted({f"{ref.model}/{ref.benchmark}" for ref in files}),
        "note": (
            "in-sample: the winner was searched on these files; an upper bound, not a result"
            if in_sample
            else "held-out files of the run, scored after its heldout.json; chooses nothing"
        ),
    }
    print("\n".join(summary_lines(payload, label=label)))
    if args.out:
        Path(args.out).write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
