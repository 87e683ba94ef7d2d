"""Counterfactual episodes: the same revealed information, everything else replaced.

For an episode a controller has played, :func:`counterfactual` builds a question
whose first ``opened`` branches agree with the real ones on everything the
controller's actions revealed — the answers it read, whether and when a branch
finished, the tokens a finished branch was charged — and whose every other value
is drawn from a *donor* question of the same file: the later probes, final
answer and length of each branch left unfinished, every unopened branch, and (for
scoring) a gold answer no branch gives. The pool size stays the same. A controller
that decides only on what it paid to see therefore plays the counterfactual
exactly as it played the real episode.

Both real and counterfactual episodes are *materialised* the same way (branches
re-indexed in opening order, vocabulary re-interned), so the two cannot be told
apart by their encoding.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from autotts.data.records import ReplayQuestion
from autotts.env.episode import Episode

__all__ = ["Branch", "branches_of", "counterfactual", "materialise", "unused_answer"]


@dataclass(frozen=True)
class Branch:
    """One branch as strings: its probe answers, final answer and full length."""

    probes: tuple[str, ...]
    final: str
    tokens: int


def branches_of(question: ReplayQuestion, order: Sequence[int]) -> list[Branch]:
    """The branches of ``question`` in ``order``."""
    strings = question.answer_strings
    out = []
    for b in order:
        reads = strings[b]
        n = int(question.n_probes[b])
        out.append(Branch(tuple(reads[:n]), reads[n], int(question.tokens[b])))
    return out


def materialise(branches: Sequence[Branch], probe_freq: int) -> ReplayQuestion:
    """A question whose branch ``i`` is ``branches[i]`` (open it with order ``0..n-1``)."""
    vocab: dict[str, int] = {}
    for branch in branches:  # final answers first, as the loader interns them
        vocab.setdefault(branch.final, len(vocab))
    n_finals = len(vocab)
    for branch in branches:
        for answer in branch.probes:
            vocab.setdefault(answer, len(vocab))
    width = max(len(b.probes) for b in branches) + 1
    steps = np.empty((len(branches), width), dtype=np.int64)
    for i, branch in enumerate(branches):
        row = [vocab[a] for a in branch.probes]
        steps[i] = row + [vocab[branch.final]] * (width - len(row))
    return ReplayQuestion(
        text="",
        answers=tuple(vocab),
        steps=steps,
        n_probes=np.asarray([len(b.probes) for b in branches], dtype=np.int64),
        final=np.asarray([vocab[b.final] for b in branches], dtype=np.int64),
        tokens=np.asarray([b.tokens for b in branches], dtype=np.int64),
        probe_freq=probe_freq,
        n_finals=n_finals,
    )


def counterfactual(
    real: Sequence[Branch],
    played: Episode,
    donor: Sequence[Branch],
    rng: np.random.Generator,
) -> list[Branch]:
    """``real`` (in opening order) with everything ``played`` did not reveal taken from ``donor``.

    ``played`` is the parent's replay of the controller's actions on ``real``.
    """
    out: list[Branch] = []
    for slot in range(played.opened):
        branch = real[slot]
        if played.finished[slot]:
            out.append(branch)  # final answer and length were revealed (by the charge)
            continue
        depth = played.depth[slot]  # probes 1..depth were read; "not finished" says n >= depth
        deep = [b for b in donor if len(b.probes) >= depth]
        other = deep[int(rng.integers(len(deep)))] if deep else donor[int(rng.integers(len(donor)))]
        probes = branch.probes[:depth] + other.probes[depth:]
        out.append(Branch(probes, other.final, max(other.tokens, 0)))
    unopened = len(real) - played.opened
    picks = rng.choice(len(donor), size=unopened, replace=unopened > len(donor))
    out += [donor[int(i)] for i in picks]
    return out


def unused_answer(branches: Sequence[Branch], rng: np.random.Generator) -> str:
    """A plausible answer string (an integer) that no branch gives."""
    seen = {b.final for b in branches} | {a for b in branches for a in b.probes}
    while True:
        candidate = str(int(rng.integers(0, 100_000)))
        if candidate not in seen:
            return candidate
