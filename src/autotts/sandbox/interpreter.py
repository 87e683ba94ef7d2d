"""The interpreters a sandboxed worker can run on, and how PyPy is tuned for it.

A worker runs on this CPython or on PyPy 3 (``pypy3`` on PATH); which one a cell uses
is decided by :mod:`autotts.evaluation.interpreters`, the command that starts it by
:func:`autotts.sandbox.layers.worker_command`.
"""

from __future__ import annotations

import shutil

__all__ = ["INTERPRETERS", "JIT_OPTIONS", "PYPY_GC_NURSERY", "pypy_path"]

INTERPRETERS = ("cpython", "pypy")

#: PyPy's JIT compiles loops, functions and bridges sooner than by default: a kept worker
#: spends its first cells warming up, and over a dozen cells of a CMC-shaped file this
#: took 14-17 % less CPU time (``benchmarks/pypy_jit.py``). "" keeps PyPy's defaults.
JIT_OPTIONS = "threshold=300,function_threshold=400,trace_eagerness=50"

#: The size of PyPy's nursery (where new objects are allocated; a minor collection
#: empties it). PyPy sizes it from the CPU cache (the L2, 512 KB on this project's machines),
#: and a controller file allocates small lists and tuples on every read. With 16 MB
#: the worker's own work over 12 cells of a CMC-shaped file took 7.7 CPU-s against
#: 8.3 with the JIT setting alone and 8.9 with PyPy's defaults (means of 3 runs each,
#: ``python benchmarks/pypy_jit.py --alone``). Set in the worker's environment, which
#: CPython ignores; "" keeps PyPy's default.
PYPY_GC_NURSERY = "16MB"


def pypy_path() -> str | None:
    """The PyPy 3 interpreter a ``"pypy"`` worker runs on (``pypy3`` on PATH), if any."""
    return shutil.which("pypy3")
