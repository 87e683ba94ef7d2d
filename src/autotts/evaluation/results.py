"""Evaluation results: metrics plus everything needed to reproduce them.

A result records the controller spec and its resolved parameters, the replay
file's checksum, the protocol with its seeds and the package version. Nothing in
it depends on the clock or the machine beyond the data path, so the same inputs
give byte-identical JSON.
"""

from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from autotts.evaluation.runner import EpisodeTable
from autotts.version import __version__

__all__ = [
    "SCHEMA_VERSION",
    "EvalResult",
    "Metrics",
    "QuestionMetrics",
    "summarise",
    "to_csv",
    "to_json",
]

SCHEMA_VERSION = 1


@dataclass(frozen=True)
class QuestionMetrics:
    """One question over the replicates: accuracy in percent (unrounded) and mean tokens.

    ``question`` is the question's 0-based position in its replay file: the same
    benchmark file lists the same questions in the same order for every model, so
    this index is what pairs two controllers' (or two models') answers to a question.
    """

    question: int
    accuracy: float
    tokens: float
    seq_tokens: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "question": self.question,
            "accuracy": self.accuracy,
            "tokens": self.tokens,
            "seq_tokens": self.seq_tokens,
        }


@dataclass(frozen=True)
class Metrics:
    """Accuracy in percent (2 decimals, as published) and average tokens per question."""

    accuracy: float
    accuracy_ci95: tuple[float, float]
    tokens: float
    seq_tokens: float
    replicates: int
    questions: int
    #: per question, in file order: what a paired comparison needs (and all it needs:
    #: :mod:`autotts.evaluation.paired` works from these, not from the episode table)
    per_question: tuple[QuestionMetrics, ...] = ()


def summarise(table: EpisodeTable) -> Metrics:
    """Metrics exactly as the reference evaluation computes them.

    Accuracy is the mean over replicates of the fraction of questions solved,
    ``round(100·x, 2)``; tokens are the mean over replicates of total tokens per
    question (a left-to-right Python sum, like the reference). The 95 % interval
    is a Student-t interval over replicates.
    """
    replicates, questions = table.correct.shape
    per_replicate = table.correct.mean(axis=1)
    mean = float(np.mean(per_replicate))
    cost = [float(c) / questions for c in table.cost.sum(axis=1)]
    seq = [float(c) / questions for c in table.sequential_cost.sum(axis=1)]
    return Metrics(
        accuracy=round(100 * mean, 2),
        accuracy_ci95=_t_interval(per_replicate),
        tokens=sum(cost) / len(cost),
        seq_tokens=sum(seq) / len(seq),
        replicates=replicates,
        questions=questions,
        per_question=per_question(table),
    )


def per_question(table: EpisodeTable) -> tuple[QuestionMetrics, ...]:
    """Each question's accuracy (%) and mean tokens over the table's replicates."""
    accuracy = 100.0 * table.correct.mean(axis=0)
    tokens = table.cost.mean(axis=0)
    seq = table.sequential_cost.mean(axis=0)
    return tuple(
        QuestionMetrics(q, float(a), float(t), float(s))
        for q, (a, t, s) in enumerate(zip(accuracy.tolist(), tokens.tolist(), seq.tolist()))
    )


def _t_interval(values: np.ndarray) -> tuple[float, float]:
    mean = float(np.mean(values))
    if len(values) < 2:
        return (round(100 * mean, 2), round(100 * mean, 2))
    from scipy.special import stdtrit  # the Student-t quantile, without importing scipy.stats

    half = (
        float(stdtrit(len(values) - 1, 0.975))
        * float(np.std(values, ddof=1))
        / math.sqrt(len(values))
    )
    return (round(100 * (mean - half), 2), round(100 * (mean + half), 2))


@dataclass(frozen=True)
class EvalResult:
    """One controller on one replay file under one protocol."""

    controller: dict[str, Any]
    params: dict[str, Any]
    data: dict[str, Any]
    protocol: dict[str, Any]
    metrics: Metrics
    label: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def provenance_columns(self) -> dict[str, Any]:
        """Flat columns that let a CSV row be re-run: controller spec, data checksum, protocol."""
        return {
            "controller": json.dumps(self.controller, separators=(",", ":"), ensure_ascii=False),
            "data_sha256": self.data["sha256"],
            "protocol": json.dumps(self.protocol, separators=(",", ":"), ensure_ascii=False),
        }

    def to_dict(self) -> dict[str, Any]:
        m = self.metrics
        return {
            "schema_version": SCHEMA_VERSION,
            "autotts_version": __version__,
            "label": self.label,
            "controller": self.controller,
            "params": self.params,
            "data": self.data,
            "protocol": self.protocol,
            "metrics": {
                "accuracy": m.accuracy,
                "accuracy_ci95": list(m.accuracy_ci95),
                "tokens": m.tokens,
                "seq_tokens": m.seq_tokens,
                "replicates": m.replicates,
                "questions": m.questions,
            },
            # beside "metrics", not in it: the summary's shape stays what readers expect
            "per_question": [q.to_dict() for q in m.per_question],
            **self.extra,
        }


def to_json(payload: Any) -> str:
    """Stable JSON: fixed key order as built, no NaN, trailing newline."""
    return json.dumps(payload, indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def to_csv(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return ""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()
