"""Shadow data for the look-ahead audit: a replay file in which a cell's every question is
replaced by a counterfactual that agrees with everything the controller paid to see.

The audit (:mod:`autotts.evaluation.audit`) plays a cell a second time, in a *fresh*
worker process, on the shadow of the data it was played on. For each question the
shadow keeps, branch by branch, what any episode of the cell revealed — the probe
answers read up to the deepest read of that branch, and the whole branch (final
answer and length) once some episode finished it — and draws everything else from
other questions of the same file: the later probes, final answer and length of
branches left unfinished, and every branch no episode opened. Borrowed answers are
renamed into the question's own answers (at random), so the seam between what was
read and what was borrowed does not show as answers foreign to the question. A probe's
confidence (data that has them) goes with its answer: read probes keep theirs, borrowed
ones bring the donor's, so a confidence read counterfactually is as consistent with its
answer as a real one. The shadow keeps the file's questions, branch counts and shapes,
and is interned the way the loader interns a file.

A controller that decides only on what it read therefore plays every episode of the
shadow exactly as it played the real one, whatever it keeps in memory: the shadow's
worker never held the real data. One that read what it had not paid for (from the
session's internals, its frames, ``gc``, a memo kept from other episodes) reads
something else in the shadow and, as soon as that changes a decision, plays
differently.
"""

from __future__ import annotations

import bisect
import dataclasses
import weakref
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from autotts.data.records import NO_ANSWER, ReplayQuestion, ReplaySet
from autotts.env.episode import Episode
from autotts.env.fast_session import FULL_READ
from autotts.sandbox.renaming import KEPT_AS_IS

__all__ = ["Revealed", "branch_fingerprints", "revealed_of", "revealed_of_logs", "shadow_replay"]


@dataclasses.dataclass
class Revealed:
    """What the episodes of one question revealed, per branch (by its index in the file)."""

    #: deepest probe read of each branch (0: never read)
    depth: dict[int, int] = dataclasses.field(default_factory=dict)
    #: branches whose end (final answer and length) some episode reached
    finished: set[int] = dataclasses.field(default_factory=set)

    def add(self, order: Sequence[int], played: Episode) -> None:
        """Add what ``played`` (the evaluator's replay of one episode) revealed."""
        for slot in range(played.opened):
            branch = int(order[slot])
            if played.finished[slot]:
                self.finished.add(branch)
            self.depth[branch] = max(self.depth.get(branch, 0), played.depth[slot])


def revealed_of(
    replay: ReplaySet, episodes: Sequence[tuple[int, Sequence[int], Episode]]
) -> dict[int, Revealed]:
    """Per question, what the episodes ``(question, order, played)`` revealed of it."""
    out: dict[int, Revealed] = {q: Revealed() for q in range(len(replay))}
    for q, order, played in episodes:
        out[q].add(order, played)
    return out


def revealed_of_logs(
    replay: ReplaySet, episodes: Sequence[tuple[int, Sequence[int], Sequence[int]]]
) -> dict[int, Revealed]:
    """:func:`revealed_of` from the episodes' action logs ``(question, order, log)`` (logs
    the evaluator has checked already), without replaying them call by call: a branch
    read ``k`` times (its opening read included) with ``n`` probe points stands at depth
    ``min(k, n)`` and is finished once ``k > n``; a full read finishes it at depth 0.
    That is :class:`~autotts.env.episode.Episode`'s rule, and what a replay gave
    (tested); the replay took a third of the audit's own CPU in the evaluator."""
    out: dict[int, Revealed] = {q: Revealed() for q in range(len(replay))}
    for q, order, log in episodes:
        reads: list[int] = []  # per opened slot; -1: generated to its end by a full read
        for action in log:
            if action >= 0:
                if reads[action] >= 0:
                    reads[action] += 1
            else:
                reads.append(-1 if action == FULL_READ else 1)
        seen, probes = out[q], replay.questions[q].probe_count_list
        depth, finished = seen.depth, seen.finished
        for slot, k in enumerate(reads):
            branch = int(order[slot])
            if k < 0:
                finished.add(branch)
                depth[branch] = depth.get(branch, 0)
                continue
            n = probes[branch]
            if k > n:
                finished.add(branch)
            depth[branch] = max(depth.get(branch, 0), min(k, n))
    return out


#: One branch as strings: its probe answers, its final answer, its length in tokens, and
#: its probes' confidences (``None`` each where it has none: always, for data without them).
_Branch = tuple[tuple[str, ...], str, int, tuple[float | None, ...]]


@dataclasses.dataclass(frozen=True)
class _Question:
    """What a shadow needs of one question, built once for as long as it lives: every
    audited cell of a file draws its shadow from the same questions."""

    #: its branches as strings
    branches: list[_Branch]
    #: its branches sorted by their number of probes, and those numbers (see _Pools)
    pool: tuple[list[_Branch], list[int]]
    #: its answers other than KEPT_AS_IS, each with its position among them (see _into)
    index: dict[str, int]
    #: the fingerprint of each branch (see branch_fingerprints)
    fingerprints: frozenset[int]


_cache: weakref.WeakKeyDictionary[ReplayQuestion, _Question] = weakref.WeakKeyDictionary()


def _cached(question: ReplayQuestion) -> _Question:
    found = _cache.get(question)
    if found is None:
        strings = question.answer_strings
        probes = question.probe_count_list
        confidences = question.confidence_lists
        branches = [
            (
                tuple(strings[b][: probes[b]]),
                strings[b][probes[b]],
                question.token_list[b],
                (None,) * probes[b] if confidences is None else confidences[b],
            )
            for b in range(question.n_branches)
        ]
        ordered = sorted(branches, key=lambda x: len(x[0]))
        renamed = [a for a in question.answers if a not in KEPT_AS_IS]
        found = _Question(
            branches,
            (ordered, [len(x[0]) for x in ordered]),
            {a: i for i, a in enumerate(renamed)},
            frozenset(hash(branch) for branch in branches),
        )
        _cache[question] = found
    return found


def _branches(question: ReplayQuestion) -> list[_Branch]:
    return _cached(question).branches


def branch_fingerprints(replay: ReplaySet) -> frozenset[int]:
    """A fingerprint (this process's hash) of every branch of ``replay``: its probe answers,
    final answer and length. A worker that was sent a shadow of one file holds real
    branches of it (the kept-real questions', and donors'); two files that share a
    recorded trajectory share its fingerprint, whatever their names or the questions it
    is filed under, so the audit never gives such a worker a shadow of the other
    (:func:`~autotts.evaluation.kept_workers.run_shadow`)."""
    return frozenset().union(*(_cached(q).fingerprints for q in replay.questions))


class _Pools:
    """Each question's branches sorted by their number of probes: a branch left unfinished
    at depth ``d`` borrows from a donor branch with at least ``d`` probes (so "not
    finished after ``d`` reads" stays true)."""

    def __init__(self, replay: ReplaySet) -> None:
        self.replay = replay

    def branches(self, q: int) -> tuple[list[_Branch], list[int]]:
        return _cached(self.replay.questions[q]).pool


def shadow_replay(
    replay: ReplaySet, revealed: dict[int, Revealed], rng: np.random.Generator
) -> ReplaySet:
    """``replay`` with every question in ``revealed`` replaced by its counterfactual.

    The gold answer of a counterfactual question is one none of its branches gives.
    """
    questions = list(replay.questions)
    gold = list(replay.gold)
    pools = _Pools(replay)
    for q, seen in revealed.items():
        donors = [d for d in range(len(replay)) if d != q] or [q]
        questions[q] = _counterfactual(replay.questions[q], seen, pools, donors, rng)
        gold[q] = _unused(questions[q], rng)
    return dataclasses.replace(
        replay,
        questions=tuple(questions),
        gold=tuple(gold),
        gold_ids=np.full(len(questions), NO_ANSWER, dtype=np.int64),
    )


def _counterfactual(
    question: ReplayQuestion,
    seen: Revealed,
    pools: _Pools,
    donors: list[int],
    rng: np.random.Generator,
) -> ReplayQuestion:
    real = _branches(question)
    own = [a for a in question.answers if a not in KEPT_AS_IS]
    renames: dict[int, _Rename] = {}  # per donor question: its answers onto ours
    out: list[_Branch] = []
    for b, branch in enumerate(real):
        if b in seen.finished:
            out.append(branch)
            continue
        depth = seen.depth.get(b, 0)
        d = donors[int(rng.integers(len(donors)))]
        ordered, counts = pools.branches(d)
        start = bisect.bisect_left(counts, depth)
        if start < len(ordered):
            probes, final, tokens, confidences = ordered[int(rng.integers(start, len(ordered)))]
        else:  # no donor branch is that deep: borrow the question's own deepest
            probes, final, tokens, confidences = max(real, key=lambda x: len(x[0]))
        if d not in renames:
            renames[d] = _into(own, _cached(pools.replay.questions[d]).index, rng)
        rename = renames[d]
        borrowed = tuple(map(rename, probes[depth:]))
        out.append(
            (
                branch[0][:depth] + borrowed,
                rename(final),
                tokens,
                branch[3][:depth] + confidences[depth:],
            )
        )
    return _intern(out, question.probe_freq)


class _Rename:
    """A random map of a donor question's answers onto this question's answers (an answer
    it does not map, ``"ERR"``, stays as it is)."""

    __slots__ = ("index", "own", "picks")

    def __init__(self, own: list[str], index: dict[str, int], picks: list[int]) -> None:
        self.own, self.index, self.picks = own, index, picks

    def __call__(self, answer: str) -> str:
        i = self.index.get(answer)
        if i is None or not self.own:
            return answer
        # More donor answers than own ones: the rest share own answers, as rare answers do.
        return self.own[self.picks[i % len(self.own)]]


def _into(own: list[str], index: dict[str, int], rng: np.random.Generator) -> _Rename:
    """The donor's answers (``index``: each with its position among them) onto ``own``:
    the donor's ``i``-th answer becomes ``own[picks[i % len(own)]]`` for a random
    permutation ``picks``, worked out only for the answers a shadow borrows."""
    picks = rng.permutation(len(own)).tolist() if own else []
    return _Rename(own, index, picks)


def _intern(branches: list[_Branch], probe_freq: int) -> ReplayQuestion:
    """A question made of ``branches``, interned as the loader interns one (finals first,
    in branch order, then answers seen only in probes)."""
    vocab: dict[str, int] = {}
    for _, final, _, _ in branches:
        vocab.setdefault(final, len(vocab))
    n_finals = len(vocab)
    for probes, _, _, _ in branches:
        for answer in probes:
            vocab.setdefault(answer, len(vocab))
    width = max(len(p) for p, _, _, _ in branches) + 1
    steps = np.array(
        [
            [vocab[a] for a in probes] + [vocab[final]] * (width - len(probes))
            for probes, final, _, _ in branches
        ],
        dtype=np.int64,
    ).reshape(len(branches), width)
    confidence: npt.NDArray[np.float64] | None = None
    if any(c is not None for *_, confidences in branches for c in confidences):
        confidence = np.full((len(branches), width), np.nan)
        for i, (*_, confidences) in enumerate(branches):
            confidence[i, : len(confidences)] = [np.nan if c is None else c for c in confidences]
    return ReplayQuestion(
        text="",
        answers=tuple(vocab),
        steps=steps,
        n_probes=np.asarray([len(p) for p, _, _, _ in branches], dtype=np.int64),
        final=np.asarray([vocab[f] for _, f, _, _ in branches], dtype=np.int64),
        tokens=np.asarray([t for _, _, t, _ in branches], dtype=np.int64),
        probe_freq=probe_freq,
        n_finals=n_finals,
        confidence=confidence,  # data without confidences keeps none
    )


def _unused(question: ReplayQuestion, rng: np.random.Generator) -> str:
    while True:
        candidate = str(int(rng.integers(0, 100_000)))
        if candidate not in question.answers:
            return candidate
