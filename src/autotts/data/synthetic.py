"""Synthetic replay data: a small, seeded generative model of reasoning trajectories.

The synthetic store lets every command run without downloading anything
(``--data synthetic``), and gives tests data of any size. It is written in
exactly the upstream replay format (docs/replay-protocol.md §1), so anything
that reads the public files reads these too. It is a caricature of the real
data, built to have the structure test-time-scaling controllers exploit; it
says nothing about how well a controller does on real model outputs.

The model
---------

Each file is generated from its own seed, question by question, with
:func:`numpy.random.default_rng`; nothing else is random, so a seed, a question
count and a branch count determine the file byte for byte.

**Questions.** Every question draws a latent difficulty: it is *hard* with
probability ``difficulty`` (the share of hard questions), *easy* otherwise. Its
gold answer is an integer 0-999 written as a string (``"204"``), as in AIME.
It gets 2-5 *distractors* (other integers 0-999: the wrong answers many
trajectories agree on) and 6 *scratch* answers (integers 1000-99999 that
trajectories pass through while still working).

**Final answers.** Each branch's final answer is drawn independently from a
per-question distribution over the gold answer, the distractors and a *tail*
(a fresh one-off wrong answer, 1000-99999, for every branch that lands there):

- easy question: the gold share is ``Beta(*profile.easy_solve)``, so the gold
  answer is usually the clear majority;
- hard question: with probability ``profile.hard_absent`` no branch can reach
  the gold answer at all; otherwise its share is ``profile.hard_cap`` times a
  ``Beta(*profile.hard_solve)`` draw (``hard_cap`` is 0.25 in both profiles).
  One distractor, the *attractor*, takes 50-85 % of the wrong mass that is not
  tail, at least 0.5 × 0.8 × 0.75 = 0.3 of all finals, more than the gold
  share: on a hard question the gold answer is a minority in expectation, or
  absent;
- of the wrong mass, 5-20 % is tail; the rest (after the attractor, on hard
  questions) is split among the distractors by a flat Dirichlet draw.

**Lengths.** A branch's length in tokens is lognormal: its log is
``log(profile.median_tokens)`` plus a per-question offset ``N(0, 0.3²)``, plus
``log(profile.hard_length_factor)`` on hard questions, plus
``log(profile.wrong_length_factor)`` when the branch ends on a wrong answer,
plus ``N(0, profile.length_sigma²)``; it is rounded and clipped to
1,500-40,000 tokens. Wrong and hard trajectories are thus longer, as in the
real data.

**Probes.** A branch of ``t`` tokens has ``ceil(t / probe_freq)`` probe
points, minus 0-3 (probability 0.2, 0.5, 0.2, 0.1, never below zero): the real
data often lacks the last few probes. Probe ``k`` of ``n`` sits at relative
depth ``x = (k + 1) / n``. Each branch draws a *lock-in* depth ``L`` from
``Beta(*profile.lock_in)``; probe ``k`` already shows the branch's final answer
with probability ``sigmoid((x - L) / 0.07)``, so the answers converge over
depth. A probe that has locked in still reads ``"ERR"`` with probability
0.03. A probe that has not is ``"ERR"`` with probability ``profile.err_rate``
and otherwise a *wandering* answer: a distractor (70 %), a scratch answer
(20 %) or the gold answer (10 %; on a question whose gold answer is absent the
other two are renormalised).
Early probes are therefore mostly ``"ERR"`` or wrong, late probes mostly the
final answer.

**Confidences** (optional: ``confidence=True``; ``data synth --confidence``). Each probe
gets a mean token log-probability, ``log(p)``, stored as the replay format's optional
``probe_logprobs`` (rounded to four decimals). ``p`` is a Beta draw that depends on what
the probe shows: ``Beta(8, 2)`` for a locked-in probe whose branch ends on the gold
answer, ``Beta(5, 3)`` for a locked-in one that ends on a wrong answer, ``Beta(2, 5)``
for a wandering answer and ``Beta(1.5, 6)`` for ``"ERR"``. So a confident probe is more
often settled, and a little more often right, than an unconfident one: the cheap
signal the paper names, in caricature. The draws come from a generator of their own
(seeded from the file's seed), so a file with confidences has exactly the answers,
lengths and probes of the same file without.

**Profiles.** Two synthetic "models" differ only in their parameters (see
:data:`PROFILES`): ``Synth-Large`` solves more questions, writes shorter
trajectories and converges earlier than ``Synth-Small``.

The store
---------

:func:`write_synthetic_store` writes ``<out>/<model>/<benchmark>.json`` for the
models ``Synth-Small`` and ``Synth-Large`` and the benchmarks ``aime24``,
``aime25`` and ``hmmt25``. The benchmark names are **labels only**: they make
the search/held-out split of the real data (design on ``aime24``, test on the
other two) carry over to the synthetic store; the files contain no AIME or
HMMT problems. They differ in their share of hard questions (30 %, 40 % and
50 %). Each file's seed is derived from the store seed and its model and
benchmark names (:func:`file_seed`), so files do not depend on one another.
The defaults are 30 questions × 128 branches per file, the size of the public
files; :func:`synthetic_replay_sets` builds the same six files in memory (in
under a second on a typical machine, then cached), which is what
``--data synthetic`` uses. The question texts are placeholders and do not
reveal a question's difficulty.
"""

from __future__ import annotations

import hashlib
import json
import math
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from autotts.atomic import write_atomic
from autotts.data.loading import parse_replay
from autotts.data.records import ReplaySet
from autotts.errors import UnknownName, UsageError

__all__ = [
    "DEFAULT_BRANCHES",
    "DEFAULT_QUESTIONS",
    "PROFILES",
    "SYNTHETIC_BENCHMARKS",
    "SYNTHETIC_MODELS",
    "SynthProfile",
    "file_seed",
    "synthesize_questions",
    "synthetic_documents",
    "synthetic_replay_sets",
    "write_synthetic_store",
]

DEFAULT_QUESTIONS = 30
DEFAULT_BRANCHES = 128
DEFAULT_PROBE_FREQ = 500
#: Share of hard questions when ``difficulty`` is not given.
DEFAULT_DIFFICULTY = 0.35
MIN_TOKENS = 1_500
MAX_TOKENS = 40_000
ERR = "ERR"

_N_SCRATCH = 6
_LOCK_WIDTH = 0.07
_LOCKED_ERR = 0.03
_DEFICIT_P = (0.2, 0.5, 0.2, 0.1)  # P(n_probes = ceil(t / Δ) - d) for d = 0, 1, 2, 3
_WANDER_SPLIT = (0.1, 0.7, 0.2)  # gold, distractors, scratch
# Beta(a, b) of a probe's confidence: locked in on gold, locked in on a wrong answer,
# wandering, ERR (see the module documentation).
_CONFIDENCE_BETA = ((8.0, 2.0), (5.0, 3.0), (2.0, 5.0), (1.5, 6.0))


@dataclass(frozen=True)
class SynthProfile:
    """The parameters of one synthetic model (see the module documentation)."""

    name: str
    #: Beta(a, b) of the gold answer's share of final answers on an easy question.
    easy_solve: tuple[float, float]
    #: Beta(a, b) of the gold share on a hard question, scaled by ``hard_cap``.
    hard_solve: tuple[float, float]
    #: Upper bound of the gold share on a hard question (below the attractor's share).
    hard_cap: float
    #: Probability that no branch of a hard question reaches the gold answer.
    hard_absent: float
    #: Median length, in tokens, of a branch that ends right on an easy question.
    median_tokens: float
    #: Length multiplier on hard questions.
    hard_length_factor: float
    #: Length multiplier for branches that end on a wrong answer.
    wrong_length_factor: float
    #: Standard deviation of a branch's log length around its question's median.
    length_sigma: float
    #: Beta(a, b) of the relative depth at which a branch's probes lock onto its final answer.
    lock_in: tuple[float, float]
    #: Probability that a probe before lock-in reads "ERR".
    err_rate: float


PROFILES: dict[str, SynthProfile] = {
    "Synth-Small": SynthProfile(
        name="Synth-Small",
        easy_solve=(6.0, 2.5),
        hard_solve=(1.2, 4.0),
        hard_cap=0.25,
        hard_absent=0.35,
        median_tokens=9_000.0,
        hard_length_factor=1.8,
        wrong_length_factor=1.3,
        length_sigma=0.55,
        lock_in=(5.0, 3.0),
        err_rate=0.3,
    ),
    "Synth-Large": SynthProfile(
        name="Synth-Large",
        easy_solve=(12.0, 1.5),
        hard_solve=(2.0, 3.0),
        hard_cap=0.25,
        hard_absent=0.2,
        median_tokens=6_500.0,
        hard_length_factor=1.6,
        wrong_length_factor=1.25,
        length_sigma=0.5,
        lock_in=(3.0, 5.0),
        err_rate=0.25,
    ),
}

SYNTHETIC_MODELS = tuple(PROFILES)
#: Benchmark label → share of hard questions. The names are labels only.
SYNTHETIC_BENCHMARKS: dict[str, float] = {"aime24": 0.3, "aime25": 0.4, "hmmt25": 0.5}

_ObjArray = npt.NDArray[np.object_]


def synthesize_questions(
    *,
    questions: int = DEFAULT_QUESTIONS,
    branches: int = DEFAULT_BRANCHES,
    seed: int = 0,
    probe_freq: int = DEFAULT_PROBE_FREQ,
    difficulty: float | None = None,
    profile: str | SynthProfile = "Synth-Small",
    confidence: bool = False,
) -> list[dict[str, Any]]:
    """One synthetic replay document: a JSON-ready list of question objects.

    ``difficulty`` is the probability that a question is hard (default
    :data:`DEFAULT_DIFFICULTY`); ``profile`` a name in :data:`PROFILES` or a
    :class:`SynthProfile`; ``confidence`` adds the probes' ``probe_logprobs``. The
    result depends only on the arguments.
    """
    _check_count("questions", questions)
    _check_count("branches", branches)
    _check_count("probe_freq", probe_freq)
    _check_seed(seed)
    share_hard = DEFAULT_DIFFICULTY if difficulty is None else float(difficulty)
    if not 0.0 <= share_hard <= 1.0:
        raise UsageError(f"difficulty must lie in [0, 1], got {difficulty!r}")
    if isinstance(profile, str):
        if profile not in PROFILES:
            raise UnknownName("synthetic profile", profile, PROFILES)
        profile = PROFILES[profile]
    rng = np.random.default_rng(seed)
    # A stream of its own: the main stream, hence the rest of the file, is the same either way.
    confidence_rng = np.random.default_rng([seed, 1]) if confidence else None
    return [
        _question(rng, q, branches, probe_freq, share_hard, profile, confidence_rng)
        for q in range(questions)
    ]


def file_seed(seed: int, model: str, benchmark: str) -> int:
    """The seed of one file of a synthetic store, derived from the store seed and the names."""
    _check_seed(seed)
    entropy = [seed, zlib.crc32(model.encode()), zlib.crc32(benchmark.encode())]
    return int(np.random.SeedSequence(entropy).generate_state(1, dtype=np.uint64)[0])


def synthetic_documents(
    *,
    questions: int = DEFAULT_QUESTIONS,
    branches: int = DEFAULT_BRANCHES,
    seed: int = 0,
    confidence: bool = False,
) -> list[tuple[str, str, list[dict[str, Any]]]]:
    """``(model, benchmark, document)`` for every file of the synthetic store."""
    return [
        (
            model,
            benchmark,
            synthesize_questions(
                questions=questions,
                branches=branches,
                seed=file_seed(seed, model, benchmark),
                difficulty=share_hard,
                profile=model,
                confidence=confidence,
            ),
        )
        for model in SYNTHETIC_MODELS
        for benchmark, share_hard in SYNTHETIC_BENCHMARKS.items()
    ]


def write_synthetic_store(
    out: Path,
    *,
    questions: int = DEFAULT_QUESTIONS,
    branches: int = DEFAULT_BRANCHES,
    seed: int = 0,
    confidence: bool = False,
) -> list[Path]:
    """Write the synthetic store to ``out/<model>/<benchmark>.json``; returns the paths.

    Files are formatted like the public ones (two-space indented JSON) and each is
    written atomically: an interrupted run leaves complete files or none. ``confidence``
    adds the probes' confidences (``probe_logprobs``).
    """
    out = Path(out)
    written: list[Path] = []
    for model, benchmark, document in synthetic_documents(
        questions=questions, branches=branches, seed=seed, confidence=confidence
    ):
        path = out / model / f"{benchmark}.json"
        _write_atomic(path, _encode(document))
        written.append(path)
    return written


def synthetic_replay_sets(
    *,
    questions: int = DEFAULT_QUESTIONS,
    branches: int = DEFAULT_BRANCHES,
    seed: int = 0,
    confidence: bool = False,
) -> list[ReplaySet]:
    """The synthetic store, generated and parsed in memory (cached per argument set).

    Each set's ``sha256`` is that of the file :func:`write_synthetic_store` would
    write with the same arguments, and its ``source`` names the generator settings.
    """
    return list(_cached_sets(questions, branches, seed, confidence))


@lru_cache(maxsize=4)
def _cached_sets(
    questions: int, branches: int, seed: int, confidence: bool = False
) -> tuple[ReplaySet, ...]:
    sets = []
    for model, benchmark, document in synthetic_documents(
        questions=questions, branches=branches, seed=seed, confidence=confidence
    ):
        source = (
            f"synthetic:{model}/{benchmark}?questions={questions}&branches={branches}&seed={seed}"
        )
        if confidence:  # the settings without it name the store as they always did
            source += "&confidence=1"
        sets.append(
            parse_replay(
                document,
                source=source,
                sha256=hashlib.sha256(_encode(document)).hexdigest(),
                model=model,
                benchmark=benchmark,
            )
        )
    return tuple(sets)


# --------------------------------------------------------------------------- generation


def _question(
    rng: np.random.Generator,
    index: int,
    n_branches: int,
    probe_freq: int,
    share_hard: float,
    profile: SynthProfile,
    confidence_rng: np.random.Generator | None = None,
) -> dict[str, Any]:
    hard = bool(rng.random() < share_hard)
    gold = int(rng.integers(0, 1000))
    n_distractors = int(rng.integers(2, 6))
    # Distinct integers 0-999 other than the gold answer.
    picks = rng.choice(999, size=n_distractors, replace=False)
    distractors = [str(int(x) + int(x >= gold)) for x in picks]
    scratch = [str(int(x) + 1000) for x in rng.choice(99_000, size=_N_SCRATCH, replace=False)]

    # Share of each final-answer category: gold, distractors..., tail.
    if hard:
        absent = bool(rng.random() < profile.hard_absent)
        p_gold = 0.0 if absent else profile.hard_cap * float(rng.beta(*profile.hard_solve))
        attractor = float(rng.uniform(0.5, 0.85))
    else:
        p_gold = float(rng.beta(*profile.easy_solve))
        attractor = 0.0
    wrong = 1.0 - p_gold
    tail = float(rng.uniform(0.05, 0.2))
    # Of the non-tail wrong mass, the attractor (distractor 0) takes its share
    # and a flat Dirichlet draw spreads the rest over all distractors.
    spread = rng.dirichlet(np.ones(n_distractors)) * (1.0 - attractor)
    spread[0] += attractor
    spread *= 1.0 - tail
    probs = np.concatenate(([p_gold], wrong * spread, [wrong * tail]))
    probs /= probs.sum()

    category = rng.choice(n_distractors + 2, size=n_branches, p=probs)
    tail_answers = rng.integers(1000, 100_000, size=n_branches)
    labels = np.array([str(gold), *distractors], dtype=object)
    is_tail = category == n_distractors + 1
    finals: _ObjArray = np.where(
        is_tail,
        tail_answers.astype(str).astype(object),
        labels[np.minimum(category, n_distractors)],
    )

    # Lengths.
    log_len = (
        math.log(profile.median_tokens)
        + float(rng.normal(0.0, 0.3))
        + (math.log(profile.hard_length_factor) if hard else 0.0)
        + np.where(category != 0, math.log(profile.wrong_length_factor), 0.0)
        + rng.normal(0.0, profile.length_sigma, size=n_branches)
    )
    tokens = np.clip(np.rint(np.exp(log_len)), MIN_TOKENS, MAX_TOKENS).astype(np.int64)
    deficit = rng.choice(len(_DEFICIT_P), size=n_branches, p=_DEFICIT_P)
    n_probes = np.maximum(-(-tokens // probe_freq) - deficit, 0)

    # Probes.
    width = max(int(n_probes.max()), 1)
    depth = np.arange(1, width + 1) / np.maximum(n_probes, 1)[:, None]
    lock = rng.beta(*profile.lock_in, size=(n_branches, 1))
    p_locked = 1.0 / (1.0 + np.exp(-(depth - lock) / _LOCK_WIDTH))
    locked = rng.random((n_branches, width)) < p_locked
    err = rng.random((n_branches, width)) < np.where(locked, _LOCKED_ERR, profile.err_rate)
    wander_pool = np.array([str(gold), *distractors, *scratch], dtype=object)
    g, d, s = _WANDER_SPLIT
    if p_gold == 0.0:
        g = 0.0
    wander_p = np.concatenate(
        ([g], np.full(n_distractors, d / n_distractors), np.full(_N_SCRATCH, s / _N_SCRATCH))
    )
    wander = wander_pool[
        rng.choice(len(wander_pool), size=(n_branches, width), p=wander_p / wander_p.sum())
    ]
    probes: _ObjArray = np.where(err, ERR, np.where(locked, finals[:, None], wander))

    final_list: list[str] = finals.tolist()
    each_branch = [
        [row[:n], t, f]
        for row, n, t, f in zip(
            probes.tolist(), n_probes.tolist(), tokens.tolist(), final_list, strict=True
        )
    ]
    item: dict[str, Any] = {
        "question": f"Synthetic question {index + 1} ({profile.name}).",
        "final_answers_trace": final_list,
        "each_branch": each_branch,
        "gold_answer": str(gold),
        "probe_freq": probe_freq,
    }
    if confidence_rng is not None:
        # Which Beta each probe's confidence is drawn from (_CONFIDENCE_BETA's rows).
        kind = np.where(err, 3, np.where(locked, np.where(finals[:, None] == str(gold), 0, 1), 2))
        a, b = (np.asarray(x)[kind] for x in zip(*_CONFIDENCE_BETA))
        p = np.clip(confidence_rng.beta(a, b), 1e-6, 1.0)
        logprobs = np.round(np.log(p), 4)
        item["probe_logprobs"] = [
            row[:n] for row, n in zip(logprobs.tolist(), n_probes.tolist(), strict=True)
        ]
    return item


# --------------------------------------------------------------------------- helpers


def _encode(document: Sequence[dict[str, Any]]) -> bytes:
    return json.dumps(document, indent=2).encode("utf-8")


def _write_atomic(path: Path, data: bytes) -> None:
    write_atomic(path, data, durable=True)


def _check_count(name: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise UsageError(f"{name} must be a positive integer, got {value!r}")


def _check_seed(seed: int) -> None:
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise UsageError(f"seed must be a non-negative integer, got {seed!r}")
