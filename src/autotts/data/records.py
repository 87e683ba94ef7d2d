"""Compact in-memory form of replay data.

A replay file stores every answer as a string, many times over. The hot loop only
ever compares answers for equality, so each question's answers are interned to
small integers once at load time and every per-branch quantity lives in a NumPy
array. Gold answers are kept apart from the trajectories (:class:`ReplaySet`
holds them, :class:`ReplayQuestion` does not), so nothing built from a question
- an environment, a session, a controller - can ever see them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["NO_ANSWER", "ReplayQuestion", "ReplaySet"]

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]

#: Answer id meaning "no answer" (a controller returned ``None``).
NO_ANSWER = -1


@dataclass(frozen=True, eq=False)
class ReplayQuestion:
    """The sampled trajectories of one question, without its gold answer.

    ``answers`` is the question's vocabulary: every distinct answer string that
    occurs in a probe or a final answer. The first ``n_finals`` are the distinct
    final answers (in branch order), the rest answers seen only in probes. All
    other fields refer to answers by their index in it.

    ``steps[b, k]`` is what the ``k+1``-th read of branch ``b`` returns: its
    ``k``-th probe answer while ``k < n_probes[b]``, its final answer from then on
    (the row is padded with the final answer). ``tokens[b]`` is the branch's full
    length and ``probe_freq`` the interval Δ between probes, in tokens.

    ``confidence[b, k]`` (optional: ``None`` when the file has no ``probe_logprobs``) is
    the confidence of branch ``b``'s ``k``-th probe answer, ``exp`` of its mean token
    log-probability, in (0, 1]; NaN where that probe has none, and past the branch's
    probes (a final answer has none). Same shape as ``steps``.
    """

    text: str
    answers: tuple[str, ...]
    steps: IntArray
    n_probes: IntArray
    final: IntArray
    tokens: IntArray
    probe_freq: int
    n_finals: int
    confidence: FloatArray | None = None

    @property
    def n_branches(self) -> int:
        return int(self.final.shape[0])

    @cached_property
    def answer_strings(self) -> tuple[tuple[str, ...], ...]:
        """Per branch, the answers of its successive reads as strings (probes, then final).

        The pure-Python session reads these instead of the arrays: indexing a
        tuple is several times cheaper than indexing a NumPy array element.
        """
        vocab = self.answers
        return tuple(
            tuple(vocab[a] for a in row[: n + 1])
            for row, n in zip(self.steps.tolist(), self.n_probes.tolist())
        )

    @cached_property
    def confidence_lists(self) -> tuple[tuple[float | None, ...], ...] | None:
        """Per branch, the confidence of each of its probes (``None`` where it has none);
        ``None`` for a question without confidences. Plain floats, as the sessions read
        them (and as the sandbox's worker gets them)."""
        if self.confidence is None:
            return None
        return tuple(
            tuple(None if c != c else c for c in row[:n])  # c != c: NaN, no confidence
            for row, n in zip(self.confidence.tolist(), self.n_probes.tolist())
        )

    @cached_property
    def token_list(self) -> tuple[int, ...]:
        return tuple(self.tokens.tolist())

    @cached_property
    def probe_count_list(self) -> tuple[int, ...]:
        return tuple(self.n_probes.tolist())


@dataclass(frozen=True, eq=False)
class ReplaySet:
    """All questions of one (model, benchmark) replay file, plus their gold answers.

    ``gold_ids[q]`` is the gold answer's id in question ``q``'s vocabulary, or
    :data:`NO_ANSWER` when no trajectory ever produced it (then no controller can
    be right on that question).
    """

    model: str
    benchmark: str
    source: str
    sha256: str
    questions: tuple[ReplayQuestion, ...]
    gold: tuple[str, ...]
    gold_ids: IntArray = field(repr=False)
    #: how answers compare: "string" (the reference protocol) or "equivalence" (merged
    #: by :func:`autotts.data.equivalence.canonicalise`)
    answers: str = "string"

    @property
    def name(self) -> str:
        return f"{self.model}/{self.benchmark}"

    def __len__(self) -> int:
        return len(self.questions)

    def provenance(self) -> dict[str, Any]:
        """What identifies this data in a result: names, source, SHA-256, size."""
        out: dict[str, Any] = {
            "model": self.model,
            "benchmark": self.benchmark,
            "source": self.source,
            "sha256": self.sha256,
            "questions": len(self.questions),
        }
        if self.answers != "string":  # string-equality results stay as they always were
            out["answers"] = self.answers
        return out

    @property
    def has_confidence(self) -> bool:
        """Whether any question carries probe confidences (``probe_logprobs`` in the file)."""
        return any(q.confidence is not None for q in self.questions)

    def is_correct(self, question: int, answer: str | None) -> bool:
        """String equality with the gold answer, as the reference protocol scores."""
        return answer is not None and answer == self.gold[question]
