"""What the sandboxed cells of one evaluation share: a keeping block.

A keeping block holds a :class:`CellContext`: the sandboxed workers it keeps
(:class:`~autotts.evaluation.kept_workers.KeptWorkers`) and what the interpreter rule
has learnt (:class:`~autotts.evaluation.interpreters.InterpreterPolicy`). The code that
runs a controller file's cell (:mod:`~autotts.evaluation.file_cell`) takes the open
block's context and passes it down; the worker and interpreter functions below it keep
no state of their own. Outside a block a cell starts its own worker and is the first
cell its interpreter rule has seen.

:func:`~autotts.evaluation.executors.run_jobs`, a local cell stream and ``autotts check``
open a block for their own duration; a pool process or a Ray worker keeps one for its life
(:func:`keep_for_process_life`). Nested blocks share the outer block's context, which
closes its workers when the outermost block ends.
"""

from __future__ import annotations

import atexit
import contextlib
import multiprocessing.util
from collections.abc import Iterator
from dataclasses import dataclass, field

from autotts.evaluation.interpreters import InterpreterPolicy
from autotts.evaluation.kept_workers import KeptWorkers

__all__ = ["CellContext", "current", "keep_for_process_life", "keeping_workers"]


@dataclass
class CellContext:
    """The workers and the interpreter rule's memory of one keeping block."""

    workers: KeptWorkers = field(default_factory=KeptWorkers)
    interpreters: InterpreterPolicy = field(default_factory=InterpreterPolicy)


class _Blocks:
    """The block open in this process (one context however deeply nested)."""

    def __init__(self) -> None:
        self.depth = 0
        self.for_life = False
        self.context: CellContext | None = None

    def enter(self) -> CellContext:
        if self.context is None:
            self.context = CellContext()
        self.depth += 1
        return self.context

    def leave(self) -> None:
        self.depth -= 1
        if not self.depth:
            self.close()

    def close(self) -> None:
        context, self.context = self.context, None
        if context is not None:
            context.workers.close()


_blocks = _Blocks()
atexit.register(_blocks.close)


def current() -> CellContext | None:
    """The open block's context, or ``None`` outside any block."""
    return _blocks.context


@contextlib.contextmanager
def keeping_workers() -> Iterator[CellContext]:
    """Within the block, sandboxed cells reuse kept workers; they are closed on leaving."""
    context = _blocks.enter()
    try:
        yield context
    finally:
        _blocks.leave()


def keep_for_process_life() -> None:
    """Open a block until this process exits (pool processes, Ray workers); its workers
    are closed then. Calling it again changes nothing."""
    if _blocks.for_life:
        return
    _blocks.for_life = True
    _blocks.enter()
    # A pool process ends through multiprocessing, which runs its finalizers, not atexit.
    multiprocessing.util.Finalize(None, _blocks.close, exitpriority=10)
