"""Could the seeds of one question share a controller's work? Count what it saw.

Run:  python benchmarks/shared_work.py [--data ../shared/data/replay] [--model Qwen3-4B]
      [--benchmark aime24] [--betas 0 0.5 1] [--seeds 100] [FILE.py[:Class]]

The scale issue suggests running the seeds of one question together with shared
state. A controller that keeps the rules (deterministic, deciding only on what it
was shown: ``autotts check``) does the same thing in two episodes of a question
that show it the same things in the same order, so one run could stand for both.
Whether that saves anything depends on how often two episodes of a question show
a controller exactly the same, which this script measures.

For each β it plays every episode of the cell (``--seeds`` shuffles × every
question) in process on the lean session, records the episode's *observations* —
every read call with what it returned, and every free attribute the controller
read (``can_branch``, ``branches_opened``, ``tokens_used``, ``probe_freq``) with
its value — and prints how many episodes there were, how many distinct observation
sequences among them (per question), so the share of episodes a memo of whole
episodes could skip, and how many observation steps in all against how many
distinct prefixes (the share a controller that could be forked at the point where
two episodes part would skip; Python cannot fork a running function, so that is
an upper bound nothing here reaches). The default file is the CMC-shaped example
candidate that the speed benchmarks use.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from autotts.controllers.registry import load_controller_class
from autotts.data.loading import load_replay
from autotts.env.fast_session import FastSession
from autotts.env.session import Probe
from autotts.evaluation.protocols import ReferenceProtocol

ROOT = Path(__file__).resolve().parents[1]
FILE = str(ROOT / "examples" / "candidates" / "04_confidence_momentum.py")


class ObservedSession(FastSession):
    """The lean session, writing down everything the controller is shown."""

    __slots__ = ("seen",)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.seen: list[tuple[Any, ...]] = []

    def probe_new(self) -> Probe:
        probe = super().probe_new()
        self.seen.append(("probe_new", *probe))
        return probe

    def probe_more(self, branch: int) -> tuple[str, bool]:
        read = super().probe_more(branch)
        self.seen.append(("probe_more", branch, *read))
        return read

    def full_read(self) -> str:
        answer = super().full_read()
        self.seen.append(("full_read", answer))
        return answer

    get_new_branch_final_answer = full_read

    @property
    def can_branch(self) -> bool:
        value = FastSession.can_branch.fget(self)  # type: ignore[attr-defined]
        self.seen.append(("can_branch", value))
        return bool(value)

    @property
    def branches_opened(self) -> int:
        value = int(FastSession.branches_opened.fget(self))  # type: ignore[attr-defined]
        self.seen.append(("branches_opened", value))
        return value

    @property
    def tokens_used(self) -> float:
        value = FastSession.tokens_used.fget(self)  # type: ignore[attr-defined]
        self.seen.append(("tokens_used", value))
        return float(value)

    @property
    def probe_freq(self) -> int:
        value = int(FastSession.probe_freq.fget(self))  # type: ignore[attr-defined]
        self.seen.append(("probe_freq", value))
        return value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file", nargs="?", default=FILE)
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "replay")
    parser.add_argument("--model", default="Qwen3-4B")
    parser.add_argument("--benchmark", default="aime24")
    parser.add_argument("--betas", type=float, nargs="+", default=[0.0, 0.5, 1.0])
    parser.add_argument("--seeds", type=int, default=100)
    args = parser.parse_args()
    replay = load_replay(args.data / args.model / f"{args.benchmark}.json")
    protocol = ReferenceProtocol(args.seeds)
    cls = load_controller_class(args.file, trusted=True)
    print(f"{Path(args.file.split(':')[0]).name} on {args.model}/{args.benchmark}, ")
    print(f"{args.seeds} seeds × {len(replay)} questions per β")
    print("  β     episodes  distinct  memo skips   steps    prefixes  fork skips")
    for beta in args.betas:
        controller = cls(beta)
        episodes = distinct = steps = prefixes = 0
        for q, question in enumerate(replay.questions):
            sequences: set[tuple[tuple[Any, ...], ...]] = set()
            starts: set[tuple[tuple[Any, ...], ...]] = set()
            for order in protocol.orders(question.n_branches, q).tolist():
                session = ObservedSession(question, order)
                controller.solve(session)
                seen = tuple(session.seen)
                sequences.add(seen)
                starts.update(seen[: i + 1] for i in range(len(seen)))
                steps += len(seen)
                episodes += 1
            distinct += len(sequences)
            prefixes += len(starts)
        print(
            f"  {beta:<5} {episodes:>8} {distinct:>9} {1 - distinct / episodes:>10.1%} "
            f"{steps:>8} {prefixes:>10} {1 - prefixes / steps:>10.1%}"
        )


if __name__ == "__main__":
    main()
