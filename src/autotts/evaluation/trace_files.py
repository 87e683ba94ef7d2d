"""Writing execution traces as JSON lines, all of them or a chosen few.

A full CMC trace file over the reference protocol runs to hundreds of MB, so a
:class:`TraceWriter` can keep only the wrong (or the correct) episodes, and/or a
seeded uniform sample of ``sample`` of them. Without a sample every kept line is
written and flushed as its episode finishes. With one, each episode draws a
priority from a generator seeded by ``(seed, replicate, question)`` and the
``sample`` lowest priorities are kept (bottom-k sampling): the chosen set does
not depend on the order episodes finish in, and :meth:`TraceWriter.close` writes
it sorted by (replicate, question) — also when the run was interrupted.
"""

from __future__ import annotations

import heapq
import json
from typing import IO, Any

import numpy as np

from autotts.errors import UsageError
from autotts.evaluation.runner import EpisodeRecord

__all__ = ["KEEP_CHOICES", "TraceWriter", "check_filter"]

#: Values of ``only``: which episodes to keep.
KEEP_CHOICES = ("all", "wrong", "correct")


def check_filter(only: str, sample: int | None) -> None:
    """Refuse a bad ``only`` or ``sample`` with a one-line :class:`UsageError`."""
    if only not in KEEP_CHOICES:
        choices = ", ".join(KEEP_CHOICES)
        raise UsageError(f"--traces-only must be one of {choices}, got {only!r}")
    if sample is not None and sample < 1:
        raise UsageError(f"--traces-sample must be >= 1, got {sample}")


class TraceWriter:
    """A trace sink for :func:`~autotts.evaluation.runner.run_episodes` writing to ``handle``.

    ``header`` is merged into every line (model, benchmark, controller, ...).
    """

    def __init__(
        self,
        handle: IO[str],
        header: dict[str, Any],
        *,
        only: str = "all",
        sample: int | None = None,
        seed: int = 0,
    ) -> None:
        check_filter(only, sample)
        self._handle = handle
        self._header = header
        self._only = only
        self._sample = sample
        self._seed = seed
        # max-heap by priority (negated) of (priority, replicate, question, line)
        self._kept: list[tuple[float, int, int, str]] = []
        self.written = 0

    def __call__(self, replicate: int, question: int, record: EpisodeRecord) -> None:
        if (self._only == "wrong" and record.correct) or (
            self._only == "correct" and not record.correct
        ):
            return
        if self._sample is None:
            self._write(self._line(replicate, question, record))
            return
        priority = float(np.random.default_rng([self._seed, replicate, question]).random())
        if len(self._kept) < self._sample:
            item = (-priority, replicate, question, self._line(replicate, question, record))
            heapq.heappush(self._kept, item)
        elif priority < -self._kept[0][0]:
            item = (-priority, replicate, question, self._line(replicate, question, record))
            heapq.heapreplace(self._kept, item)

    def close(self) -> int:
        """Write the sampled lines (if sampling); return how many lines were written."""
        for _, _, _, line in sorted(self._kept, key=lambda item: (item[1], item[2])):
            self._write(line)
        self._kept.clear()
        return self.written

    def _line(self, replicate: int, question: int, record: EpisodeRecord) -> str:
        row: dict[str, Any] = {
            **self._header,
            "replicate": replicate,
            "question_index": question,
            "answer": record.answer,
            "is_correct": record.correct,
            "cost": record.cost,
            "sequential_cost": record.sequential_cost,
            "trace": record.trace,
        }
        if record.error is not None:  # the partial trace of a crashed episode
            row["error"] = record.error
        return json.dumps(row, ensure_ascii=False, default=str, separators=(",", ":"))

    def _write(self, line: str) -> None:
        self._handle.write(line + "\n")
        self._handle.flush()
        self.written += 1
