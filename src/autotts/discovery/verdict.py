"""The verdict on a run: its selection against the best baseline at matched tokens on
the held-out files, in numbers (``heldout.json``'s ``paired``) and in words (the
report's first box).

"At matched tokens" is the most accurate baseline whose mean held-out tokens are at
most :data:`TOKEN_SLACK` times the selection's; when every baseline spends more, the
cheapest one. The gain over it comes with a paired bootstrap 95 % interval over
questions (:func:`autotts.evaluation.paired_gain.paired_gain`, 10,000 draws, seed 0),
each question drawn once for every model (the files that hold the same questions
share their draws), as ``autotts optimize``'s gains are; the interval with every file drawn on its
own is kept beside it (``ci95_per_file``). Runs written before that have only the
per-file interval, and the words say which one they quote. A baseline whose numbers
equal the selection's on every file is its *twin*, which the words say before anything
else.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from autotts.controllers.registry import build
from autotts.discovery.heldout_records import DiscoverHeldout, HeldoutPoint, OptimizerHeldout
from autotts.discovery.records import Selection
from autotts.evaluation.file_cell import run_file_cell
from autotts.evaluation.jobs import EvalJob, load_data, runs_in_sandbox
from autotts.evaluation.paired import Cell
from autotts.evaluation.paired_gain import PairedGain, paired_gain, question_set
from autotts.evaluation.runner import EpisodeTable, run_episodes

__all__ = [
    "TOKEN_SLACK",
    "episode_tables",
    "files_gain",
    "matched_baseline",
    "means",
    "optimizer_verdict",
    "question_sets",
    "twins",
    "verdict",
]

#: How many times the selection's tokens a baseline may spend and still be "matched".
TOKEN_SLACK = 1.10


def means(points: Sequence[HeldoutPoint]) -> dict[str, tuple[float, float]]:
    """``{method: (mean accuracy, mean tokens)}`` over the held-out files, in order."""
    grouped: dict[str, list[HeldoutPoint]] = {}
    for p in points:
        grouped.setdefault(p.method, []).append(p)
    return {
        m: (
            float(np.mean([p.point.accuracy for p in g])),
            float(np.mean([p.point.tokens for p in g])),
        )
        for m, g in grouped.items()
    }


def matched_baseline(points: Sequence[HeldoutPoint], candidate: str) -> str | None:
    """The baseline the selection is measured against (see the module's docstring)."""
    table = means(points)
    if candidate not in table:
        return None
    tokens = table[candidate][1]
    others = {m: v for m, v in table.items() if m != candidate}
    if not others:
        return None
    within = {m: v for m, v in others.items() if v[1] <= tokens * TOKEN_SLACK}
    if within:
        return max(within, key=lambda m: (within[m][0], -within[m][1]))
    return min(others, key=lambda m: others[m][1])


def twins(points: Sequence[HeldoutPoint], candidate: str) -> list[str]:
    """Baselines with the selection's accuracy and tokens on every held-out file."""

    def per_file(method: str) -> dict[tuple[str, str], tuple[float, float, float]]:
        return {
            (p.point.model, p.point.benchmark): (
                p.point.accuracy,
                p.point.tokens,
                p.point.seq_tokens,
            )
            for p in points
            if p.method == method
        }

    ours = per_file(candidate)
    found = []
    for method in dict.fromkeys(p.method for p in points):
        theirs = per_file(method)
        alike = ours and theirs.keys() == ours.keys()
        if method != candidate and alike and all(_same(ours[k], theirs[k]) for k in ours):
            found.append(method)
    return found


def _same(a: tuple[float, ...], b: tuple[float, ...]) -> bool:
    return all(abs(x - y) <= 1e-9 for x, y in zip(a, b))


def _table(job: EvalJob) -> EpisodeTable:
    """Every episode's outcome, untraced: a built-in on its fast path, a file in the
    sandbox as every evaluation runs one (:func:`~autotts.evaluation.file_cell.run_file_cell`:
    played and audited; here, not on a cluster)."""
    replay = load_data(job.data)
    if runs_in_sandbox(job.spec):
        run, _audit = run_file_cell(job, replay, job.protocol)
        return run.table
    return run_episodes(build(job.spec), replay, job.protocol, max_steps=job.max_steps)


def episode_tables(jobs: Sequence[EvalJob]) -> dict[Cell, EpisodeTable]:
    """Each job's episodes run again, by file (model, benchmark): what pairing needs and
    what the summary numbers of a held-out evaluation do not keep."""
    return {(job.data.model, job.data.benchmark): _table(job) for job in jobs}


def question_sets(jobs: Sequence[EvalJob]) -> dict[Cell, str]:
    """Each job's file (model, benchmark) and the question set it holds
    (:func:`~autotts.evaluation.paired_gain.question_set`)."""
    return {(job.data.model, job.data.benchmark): question_set(job.data) for job in jobs}


def files_gain(
    ours: Mapping[Cell, EpisodeTable],
    theirs: Mapping[Cell, EpisodeTable],
    files: Sequence[Cell],
    sets: Mapping[Cell, str],
) -> PairedGain:
    """The selection's accuracy gain (points) over a baseline on ``files``, with its paired
    bootstrap intervals: questions drawn jointly for the files that hold one question set
    (``sets``, from :func:`question_sets`; ``ci95``) and file by file (``ci95_per_file``)."""
    return paired_gain(
        [ours[f] for f in files], [theirs[f] for f in files], groups=[sets[f] for f in files]
    )


def _pct(x: float) -> str:
    return f"{x:.2f} %"


def _tok(x: float) -> str:
    return f"{x / 1000:.0f}k" if x >= 10_000 else f"{x / 1000:.1f}k"


def _interval(gain: PairedGain) -> str:
    """The paired difference and its interval in words, saying how questions were drawn."""
    low, high = gain.ci95
    text = (
        f"paired difference {gain.gain:+.2f} points, 95 % bootstrap interval "
        f"[{low:+.2f}, {high:+.2f}] over {gain.resampling}"
    )
    if gain.ci95_per_file is None:
        return text
    apart = gain.ci95_per_file
    return f"{text} (file by file: [{apart[0]:+.2f}, {apart[1]:+.2f}])"


_WORDS = {
    "better": "clearly more accurate than",
    "worse": "clearly less accurate than",
    "unclear": "not distinguishable from",
}


def verdict(heldout: DiscoverHeldout | OptimizerHeldout, selection: Selection) -> dict[str, Any]:
    """``{"kind", "headline", "lines"}``: what the held-out comparison says, in words.

    ``kind`` is ``twin``, ``beaten``, ``better``, ``worse`` or ``unclear``.
    """
    if isinstance(heldout, OptimizerHeldout):
        return optimizer_verdict(heldout, selection)
    points = heldout.points
    candidate = heldout.selected
    table = means(points)
    who = f"Round {selection.round} ({selection.name}) at β = {selection.beta:g}"
    if candidate not in table:
        return {"kind": "unclear", "headline": f"{who}: no held-out numbers.", "lines": []}
    acc, tok = table[candidate]
    lines = [
        f"{who}: {_pct(acc)} at {_tok(tok)} tokens per question, mean over the held-out files."
    ]
    paired = heldout.paired
    interval = _interval(paired.gain) if paired else ""
    same = twins(points, candidate)
    if same:
        names = " and ".join(same)
        lines.append("The search re-discovered a baseline: nothing new on the held-out files.")
        if paired and paired.baseline in same:
            lines.append(f"Against {paired.baseline}: {interval}.")
        return {
            "kind": "twin",
            "headline": f"{who} is {names}'s twin: identical held-out numbers "
            f"({_pct(acc)} at {_tok(tok)} on every file alike).",
            "lines": lines,
        }
    dominating = [m for m, (a, t) in table.items() if m != candidate and a >= acc and t <= tok]
    base = (paired.baseline if paired else None) or matched_baseline(points, candidate)
    if dominating:
        best = max(dominating, key=lambda m: (table[m][0], -table[m][1]))
        a, t = table[best]
        headline = (
            f"Beaten by {best}: {_pct(a)} at {_tok(t)} vs the selection's {_pct(acc)} at "
            f"{_tok(tok)} (as accurate or more, for no more tokens)."
        )
        kind = "beaten"
    elif base is None:
        return {"kind": "unclear", "headline": lines[0], "lines": []}
    else:
        a, t = table[base]
        kind = "unclear"
        if paired:
            low, high = paired.gain.ci95
            kind = "better" if low > 0 else "worse" if high < 0 else "unclear"
        word = _WORDS[kind]
        headline = (
            f"{who} is {word} {base} at matched tokens: {_pct(acc)} at {_tok(tok)} vs "
            f"{_pct(a)} at {_tok(t)}."
        )
    if base is not None and base in table:
        a, t = table[base]
        detail = f"Against {base} ({_pct(a)} at {_tok(t)}), the best baseline at matched tokens"
        lines.append(f"{detail}: {interval}." if interval else f"{detail} (no paired interval).")
    return {"kind": kind, "headline": headline, "lines": lines}


def optimizer_verdict(heldout: OptimizerHeldout, selection: Selection) -> dict[str, Any]:
    """The words for ``autotts optimize``'s held-out comparison: at each of CMC's operating
    points, the winner at the β the *search set* chose for it against CMC there, as its
    gains record them. (Its points hold whole curves, so a mean over them, as a discovery
    run's verdict takes, would average every β.) ``better`` only when every budget is
    clearly won within CMC's tokens, which is the run's rule for replacing a built-in;
    ``worse`` when every budget is clearly lost."""
    who = f"Round {selection.round} ({selection.name})"
    kinds, said, lines = [], [], []
    for budget in heldout.gains:
        chosen = budget.search_choices()
        if not chosen:
            continue
        row = chosen[0]
        kind = "worse" if row.gain.ci95[1] < 0 else "better" if row.wins() else "unclear"
        kinds.append(kind)
        cmc = f"CMC β={budget.cmc_beta:.1f}"
        said.append(
            f"{_WORDS[kind]} {cmc} within its tokens"
            f" ({row.gain.gain:+.2f} points at β = {row.beta:g})"
        )
        spends = "" if row.within_budget else " (more tokens than CMC: outside the budget)"
        lines.append(
            f"Within {cmc}'s tokens (CMC: {_pct(budget.cmc_accuracy)} at"
            f" {_tok(budget.cmc_tokens)}):"
            f" at β = {row.beta:g}, the β the search set chose for it, {_pct(row.accuracy)} at"
            f" {_tok(row.tokens)}{spends}; {_interval(row.gain)}."
        )
    if not kinds:
        return {"kind": "unclear", "headline": f"{who}: no held-out gains.", "lines": []}
    share = heldout.extra.get("sc64_share", {})
    if share.get("winner") is not None:
        cmc = share.get("cmc")
        lines.append(
            f"It reaches SC@64's held-out accuracy at {share['winner']:.0%} of SC@64's tokens"
            + (f" (CMC: {cmc:.0%})." if cmc is not None else ".")
        )
    kind = kinds[0] if len(set(kinds)) == 1 else "unclear"
    return {"kind": kind, "headline": f"{who} is {' and '.join(said)}.", "lines": lines}
