"""What both held-out comparisons share: the refusal before a selection, the progress
count, and means over files.

``autotts discover`` (:mod:`autotts.discovery.heldout`) and ``autotts optimize``
(:mod:`autotts.discovery.optimizer.heldout`) each read the held-out files in one place,
and both do it through :func:`read_selection`: no held-out file becomes data before
``selection.json`` names a controller. Their gains are
:class:`~autotts.evaluation.paired_gain.PairedGain` records, kept in ``heldout.json`` in
the shapes of :mod:`autotts.discovery.heldout_records`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from autotts.discovery.rundir import RunDir
from autotts.errors import UsageError
from autotts.evaluation.runner import EpisodeTable

__all__ = ["Progress", "file_means", "read_selection"]


def read_selection(run: RunDir) -> dict[str, Any]:
    """``selection.json`` as its JSON object (read through :meth:`RunDir.selection`, the
    one reader of that file), refusing a run without one or one that selected no round."""
    selection = run.selection()
    if selection is None:
        raise UsageError("held-out files are evaluated only after selection.json exists")
    if selection.round is None:
        raise UsageError("the run selected no controller (no accepted round)")
    return selection.to_dict()


class Progress:
    """Counts a held-out evaluation's finished units (a file at a β, or a job) and
    reports ``(done, total)`` after each."""

    def __init__(self, total: int, report: Callable[[int, int], None] | None = None) -> None:
        self.total = total
        self.done = 0
        self._report = report

    def tick(self) -> None:
        self.done += 1
        if self._report:
            self._report(self.done, self.total)


def file_means(tables: Sequence[EpisodeTable]) -> tuple[float, float, float]:
    """Accuracy (%), tokens and sequential tokens per question, each a mean over files
    (every file weighs the same, as in the gains)."""
    acc = float(np.mean([100.0 * t.correct.mean() for t in tables]))
    tok = float(np.mean([t.cost.mean() for t in tables]))
    seq = float(np.mean([t.sequential_cost.mean() for t in tables]))
    return acc, tok, seq
