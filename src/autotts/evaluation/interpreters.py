"""Which interpreter runs a controller file's cells: CPython, or PyPy with CPython behind it.

A controller file spends most of a sandboxed cell in its own Python code, which
PyPy's JIT runs several times faster than CPython once warm (a kept worker runs
all of a candidate's cells, so it warms once). ``--interpreter pypy`` asks for
that; the sandbox is the same (bubblewrap, the seccomp filter, rlimits, the
timer), and so is everything the evaluator does with a worker's results: it
checks, charges and scores every log itself, whatever ran the controller.

The rule, per cell:

* an untraced cell runs on a PyPy worker (:mod:`autotts.sandbox.pypy_boot`);
* if PyPy rejects it, for any reason — the file imports NumPy or another module
  PyPy has not got here, uses syntax newer than Python 3.9, or fails as it would
  anywhere — the cell runs again on CPython, and CPython's result or verdict is the
  one that counts; the rest of this process's cells of that file go straight to
  CPython;
* a traced cell (the digests, ``--traces``) always runs on CPython.

So no file is rejected for PyPy's sake: a rejection on PyPy is never final. What
PyPy runs to the end counts as it is, and there the interpreters can differ: a
file whose decisions depend on the iteration order of a ``set`` or on
``hash``/``id`` values can give different numbers on the two (each
deterministic), and a crash inside C code can go differently (PyPy's
``ctypes.string_at(0)`` returns ``b""`` where CPython segfaults). The example
candidates and the built-in CMC as a file give identical numbers, and every
hostile test file the same verdict but that one (tested). Discovery checks a
candidate on CPython (``autotts check``'s pipeline) before any of its curves.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from autotts.data.records import ReplaySet
from autotts.errors import CandidateRejected, UsageError
from autotts.evaluation.protocols import EvaluationProtocol
from autotts.evaluation.runner import TraceSink
from autotts.evaluation.sandboxed import SandboxRun, run_in_sandbox
from autotts.sandbox import CandidateFile, SandboxLimits
from autotts.sandbox.layers import INTERPRETERS, pypy_path

__all__ = ["check_interpreter", "run_file"]

#: files (by content hash) that PyPy rejected in this process: CPython runs them from now on
_cpython_only: set[str] = set()


def check_interpreter(interpreter: str) -> None:
    """UsageError unless ``interpreter`` is known and, for PyPy, installed."""
    if interpreter not in INTERPRETERS:
        raise UsageError(
            f"unknown interpreter {interpreter!r}; choose one of {', '.join(INTERPRETERS)}"
        )
    if interpreter == "pypy" and pypy_path() is None:
        raise UsageError(
            "--interpreter pypy needs PyPy 3 on PATH as pypy3 "
            "(Debian: apt-get install -y --no-install-recommends pypy3)"
        )


def run_file(
    candidate: CandidateFile,
    replay: ReplaySet,
    protocol: EvaluationProtocol,
    *,
    beta: float | None,
    params: dict[str, Any] | None,
    max_steps: int | None,
    interpreter: str = "cpython",
    kept: bool = False,
    trace_sink: TraceSink | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> SandboxRun:
    """One cell of ``candidate`` in the sandbox, on ``interpreter`` by the rule above.

    ``kept`` runs it on the process's kept worker
    (:mod:`~autotts.evaluation.kept_workers`), unless it is traced; otherwise on a
    worker of its own.
    """
    check_interpreter(interpreter)

    def run(on: str) -> SandboxRun:
        settings: dict[str, Any] = {
            "beta": beta,
            "params": params,
            "progress": progress,
            "max_steps": max_steps,
            "limits": SandboxLimits(interpreter=on),
        }
        if kept and trace_sink is None:
            from autotts.evaluation.kept_workers import run_kept

            return run_kept(candidate, replay, protocol, **settings)
        return run_in_sandbox(candidate, replay, protocol, trace_sink=trace_sink, **settings)

    if interpreter == "pypy" and trace_sink is None and candidate.sha256 not in _cpython_only:
        try:
            return run("pypy")
        except CandidateRejected:
            _cpython_only.add(candidate.sha256)
    return run("cpython")
