"""A discovery round of each LLM-style candidate file (``benchmarks/candidates/``) with the
defaults, under this release and another, in one run (issue 22).

Run:  python benchmarks/llm_round.py --old PYTHON [--pairs 1] [--candidates NAME ...]

``PYTHON`` is the interpreter of a virtualenv with the other release (e.g. today's main)
installed from its own checkout (see :mod:`versus`). A round is what ``autotts
discover`` runs per candidate with no flags: the check, the curves (11 β × the four
AIME24 files, 100 seeds) on every core, with PyPy when ``pypy3`` is on PATH, and the
trace digest. The candidate files are written as language models write controllers —
per-step trace dicts, helper classes, exceptions as control flow, f-strings, defensive
checks — not as the lean example port; each passes ``autotts check``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from versus import compare  # beside this script

HERE = Path(__file__).resolve().parent

#: file -> the controller class in it
CANDIDATES = {
    "llm_consensus_tracker.py": "ConsensusTracker",
    "llm_staged_search.py": "StagedSearch",
    "llm_bandit_allocator.py": "BanditAllocator",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--old", required=True, help="python of the other release's virtualenv")
    parser.add_argument("--pairs", type=int, default=1)
    parser.add_argument("--candidates", nargs="+", default=list(CANDIDATES), choices=CANDIDATES)
    args = parser.parse_args()
    for name in args.candidates:
        print(f"== {name}", flush=True)
        compare(
            args.old,
            ["--candidate", f"{HERE / 'candidates' / name}:{CANDIDATES[name]}"],
            args.pairs,
        )


if __name__ == "__main__":
    main()
