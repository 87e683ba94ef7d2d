"""The held-out gain of one controller over another on the same files, as a record.

Both held-out comparisons (``autotts discover``'s verdict and ``autotts optimize``'s
gains at CMC's operating points) compute their gains here, from two lists of episode
tables (one per file, in the same file order) and the name of each file's question set:

* ``ci95``: the paired bootstrap 95 % interval over questions
  (:func:`~autotts.evaluation.paired.paired_bootstrap`, :data:`DRAWS` draws, seed
  :data:`SEED`), each question drawn once for every file of its question set: the
  files of one benchmark hold the same questions for every model, and a hard question
  is hard for each, so the project's protocol resamples a question across all models
  jointly. ``p_not_positive`` is that bootstrap's share of draws at or below zero.
* ``ci95_per_file``: the same draws taken for every file on its own (narrower when
  models agree on which questions are hard), kept beside it.

A record without ``ci95_per_file`` comes from before the joint interval: its ``ci95``
drew every file on its own (:attr:`PairedGain.resampling` says which).
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from autotts.data.refs import DataRef
from autotts.evaluation.jobs import load_data
from autotts.evaluation.paired import paired_bootstrap, question_diffs, question_key
from autotts.evaluation.runner import EpisodeTable

__all__ = ["DRAWS", "JOINT", "PER_FILE", "SEED", "PairedGain", "paired_gain", "question_set"]

#: Bootstrap draws and seed of every held-out interval.
DRAWS = 10_000
SEED = 0
#: :attr:`PairedGain.resampling`'s two values.
JOINT = "questions drawn jointly across models"
PER_FILE = "questions drawn file by file"


@dataclass(frozen=True)
class PairedGain:
    """A mean accuracy gain (points) over files, with its paired bootstrap intervals."""

    gain: float
    #: the 95 % interval; joint unless ``ci95_per_file`` is None (module docstring)
    ci95: tuple[float, float]
    p_not_positive: float | None = None
    ci95_per_file: tuple[float, float] | None = None

    @property
    def resampling(self) -> str:
        """How ``ci95``'s draws took questions: :data:`JOINT` or :data:`PER_FILE`."""
        return PER_FILE if self.ci95_per_file is None else JOINT

    def to_dict(self) -> dict[str, Any]:
        """``{"gain", "ci95", "p_not_positive", "ci95_per_file"}``, absent fields left out."""
        out: dict[str, Any] = {"gain": self.gain, "ci95": list(self.ci95)}
        if self.p_not_positive is not None:
            out["p_not_positive"] = self.p_not_positive
        if self.ci95_per_file is not None:
            out["ci95_per_file"] = list(self.ci95_per_file)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PairedGain:
        """The record from :meth:`to_dict`'s shape (other keys are the caller's)."""
        per_file = data.get("ci95_per_file")
        low, high = data["ci95"]
        return cls(
            gain=float(data["gain"]),
            ci95=(float(low), float(high)),
            p_not_positive=data.get("p_not_positive"),
            ci95_per_file=None if per_file is None else (float(per_file[0]), float(per_file[1])),
        )


def question_set(ref: DataRef) -> str:
    """The name of the question set ``ref``'s file holds: its benchmark and every question's
    text (:func:`~autotts.evaluation.paired.question_key`). The public files of one
    benchmark share it across models; files of one benchmark name that hold other
    questions (a store collected with a question limit, the synthetic store) do not, and
    are drawn apart rather than paired question by question."""
    return question_key(ref.benchmark, [q.text for q in load_data(ref).questions])


def paired_gain(
    a: Sequence[EpisodeTable],
    b: Sequence[EpisodeTable],
    groups: Sequence[Hashable] | None,
    *,
    draws: int = DRAWS,
    seed: int = SEED,
) -> PairedGain:
    """A's mean accuracy gain over B on the same files, ``a[i]`` and ``b[i]`` on file ``i``.

    ``groups[i]`` names file ``i``'s question set (:func:`question_set`): files with one
    name share their question draws (``ci95``), and ``ci95_per_file`` draws each on its own.
    ``groups=None`` gives only the per-file interval, as ``ci95`` (no ``ci95_per_file``):
    for callers whose published numbers predate the joint interval.
    """
    diffs = question_diffs(a, b)
    apart = paired_bootstrap(diffs, draws=draws, seed=seed)
    if groups is None:
        return PairedGain(apart.gain, (apart.low, apart.high), apart.p_not_positive)
    joint = paired_bootstrap(diffs, groups=groups, draws=draws, seed=seed)
    return PairedGain(
        joint.gain, (joint.low, joint.high), joint.p_not_positive, (apart.low, apart.high)
    )
