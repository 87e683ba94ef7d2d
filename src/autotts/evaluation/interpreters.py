"""Which interpreter runs a controller file's cells: CPython, or PyPy with CPython behind it.

A controller file spends most of a sandboxed cell in its own Python code, which
PyPy's JIT runs several times faster than CPython once warm (a kept worker runs
all of a candidate's cells, so it warms once). ``--interpreter pypy`` asks for
that; the sandbox is the same (bubblewrap, the seccomp filter, rlimits, the
timer), and so is everything the evaluator does with a worker's results: it
checks, charges and scores every log itself, whatever ran the controller.

The rule, per cell:

* an untraced cell runs on a PyPy worker (:mod:`autotts.sandbox.pypy_boot`);
* the first such cell of a job — the file, its β and parameters, the replay file
  and protocol — in a keeping block (its :class:`InterpreterPolicy`) has its first
  :data:`AGREEMENT_REPLICATES` replicates run on CPython too, and every one of those
  episodes must come out the same on both (answer, correct, tokens, longest branch)
  with the same resolved parameters: then PyPy's cell counts, and so do the block's
  later cells of the job (a round's job is one cell of 100 seeds; racing splits it into blocks of 10
  and Ray into cells of 25: comparing every block cost a raced round 43.3 s against
  34.2 s without a sample, once per job 37.6 and 34.9 s against 38.0 s, measured by
  ``benchmarks/discovery_round.py --workers 2 --race --interpreter pypy``);
* if they differ, or PyPy rejects the cell, for any reason — the file imports
  NumPy or another module PyPy has not got here, uses syntax newer than Python
  3.9, or fails as it would anywhere — the cell runs again on CPython, and
  CPython's result or verdict is the one that counts; the rest of the block's
  cells of that file go straight to CPython (a disagreement is also reported as a
  :class:`RuntimeWarning`, with the first episode that differs);
* a traced cell (the digests, ``--traces``) and a cell of no more replicates than
  the sample always run on CPython alone.

So no file is rejected for PyPy's sake, and no number PyPy gives counts unless
CPython gives it too on a sample of every cell. The interpreters can differ where
a file's decisions follow the iteration order of a ``set`` (insertion order on
PyPy, hash order on CPython) or ``hash``/``id`` values: ``max(set(votes),
key=votes.count)`` breaks ties differently. Ties are common, so such a file
disagrees within a sample of a few dozen episodes and runs on CPython (tested);
the sample guards the numbers, it is not a proof for every episode. A crash
inside C code can also go differently (PyPy's ``ctypes.string_at(0)`` returns
``b""`` where CPython segfaults); there the CPython sample crashes, and CPython's
verdict counts. The example candidates and the built-in CMC as a file give
identical numbers, and every hostile test file gets the CPython verdict (tested).
Discovery checks a candidate on CPython (``autotts check``'s pipeline) before any
of its curves.
"""

from __future__ import annotations

import json
import platform
import subprocess
import warnings
from collections.abc import Callable
from typing import Any

from autotts.data.records import ReplaySet
from autotts.errors import CandidateRejected, UsageError
from autotts.evaluation.kept_workers import KeptWorkers
from autotts.evaluation.protocols import EvaluationProtocol, ReplicateSlice
from autotts.evaluation.runner import TraceSink
from autotts.evaluation.sandboxed import SandboxRun, run_in_sandbox
from autotts.sandbox import CandidateFile, SandboxLimits
from autotts.sandbox.interpreter import INTERPRETERS, pypy_path

__all__ = [
    "AGREEMENT_REPLICATES",
    "InterpreterPolicy",
    "check_interpreter",
    "first_difference",
    "interpreter_version",
    "resolve_interpreter",
    "run_file",
]


class InterpreterPolicy:
    """What the rule above has learnt within one keeping block
    (:func:`~autotts.evaluation.keeping.keeping_workers`), passed to :func:`run_file`: a
    cell's interpreter depends on the cells of that block only, never on what ran
    before it in the process."""

    def __init__(self) -> None:
        #: files (by content hash) that PyPy rejected, or whose numbers it did not
        #: reproduce: CPython runs them from now on
        self.cpython_only: set[str] = set()
        #: jobs (see _job_key) whose PyPy numbers agreed with CPython's sample
        self.agreed: set[tuple[Any, ...]] = set()


#: Replicates of a job's first PyPy cell that CPython runs as well, to compare: the
#: first one, every question of the file (1 % of a 100-seed cell's episodes).
AGREEMENT_REPLICATES = 1


def resolve_interpreter(interpreter: str) -> str:
    """``"auto"`` (the CLI's default) is PyPy when ``pypy3`` is on PATH, else CPython: the
    rule above keeps PyPy's numbers honest, so a machine that has it uses it; any other
    name is returned as given (and checked by :func:`check_interpreter`)."""
    if interpreter == "auto":
        return "pypy" if pypy_path() is not None else "cpython"
    return interpreter


_versions: dict[str, str] = {}


def interpreter_version(interpreter: str) -> str:
    """What ``interpreter`` is, for a result's provenance: ``"CPython 3.11.2"`` or
    ``"PyPy 7.3.11 (Python 3.9.16)"`` (asked of ``pypy3`` once per process)."""
    if interpreter not in _versions:
        if interpreter == "pypy":
            path = pypy_path()
            if path is None:
                return "PyPy (not installed)"
            code = (
                "import platform, sys; v = sys.pypy_version_info; "
                "print(f'PyPy {v.major}.{v.minor}.{v.micro} (Python {platform.python_version()})')"
            )
            try:
                found = subprocess.run(
                    [path, "-c", code], capture_output=True, text=True, timeout=30, check=True
                ).stdout.strip()
            except (OSError, subprocess.SubprocessError):
                found = "PyPy (version unknown)"
            _versions[interpreter] = found
        else:
            _versions[interpreter] = f"CPython {platform.python_version()}"
    return _versions[interpreter]


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
    workers: KeptWorkers | None = None,
    policy: InterpreterPolicy | None = None,
    trace_sink: TraceSink | None = None,
    progress: Callable[[int, int], None] | None = None,
    keep_logs: bool = False,
) -> SandboxRun:
    """One cell of ``candidate`` in the sandbox, on ``interpreter`` by the rule above
    (``keep_logs``: the outcomes keep their action logs, for the audit).

    With ``workers`` (a keeping block's) it runs on their kept worker, unless it is
    traced; otherwise on a worker of its own. ``policy`` is what the rule has learnt
    of earlier cells (a keeping block's); without one, this cell is the first.
    """
    check_interpreter(interpreter)
    policy = policy if policy is not None else InterpreterPolicy()

    def run(on: str, episodes: EvaluationProtocol, report: Any = None) -> SandboxRun:
        settings: dict[str, Any] = {
            "beta": beta,
            "params": params,
            "progress": report,
            "max_steps": max_steps,
            "limits": SandboxLimits(interpreter=on),
            "keep_logs": keep_logs,
        }
        if workers is not None and trace_sink is None:
            return workers.run(candidate, replay, episodes, **settings)
        return run_in_sandbox(candidate, replay, episodes, trace_sink=trace_sink, **settings)

    if (
        interpreter == "pypy"
        and trace_sink is None
        and protocol.replicates > AGREEMENT_REPLICATES
        and candidate.sha256 not in policy.cpython_only
    ):
        job = _job_key(candidate, replay, protocol, beta, params, max_steps)
        try:
            on_pypy = run("pypy", protocol, progress)
        except CandidateRejected:
            policy.cpython_only.add(candidate.sha256)
        else:
            if job in policy.agreed:
                return on_pypy
            # CPython's verdict on the sample counts as it would on the whole cell.
            sample = run("cpython", ReplicateSlice(protocol, 0, AGREEMENT_REPLICATES))
            difference = first_difference(on_pypy, sample)
            if difference is None:
                policy.agreed.add(job)
                return on_pypy
            policy.cpython_only.add(candidate.sha256)
            warnings.warn(
                f"{candidate.path}: PyPy and CPython disagree ({difference}); "
                "its cells run on CPython",
                RuntimeWarning,
                stacklevel=2,
            )
    return run("cpython", protocol, progress)


def _job_key(
    candidate: CandidateFile,
    replay: ReplaySet,
    protocol: EvaluationProtocol,
    beta: float | None,
    params: dict[str, Any] | None,
    max_steps: int | None,
) -> tuple[Any, ...]:
    """What makes two cells parts of one job: the same file, class, β, parameters, step
    limit, replay file and protocol (a seed block of a job differs in its seeds only)."""
    settings = json.dumps(params or {}, sort_keys=True, default=repr)
    whole = protocol
    while isinstance(whole, ReplicateSlice):  # a cell's seeds: the job's protocol is around them
        whole = whole.base
    return (
        candidate.sha256,
        candidate.class_name,
        beta,
        settings,
        max_steps,
        replay.name,
        replay.source,
        replay.sha256,
        replay.answers,
        json.dumps(whole.to_dict(), sort_keys=True),
    )


def first_difference(run: SandboxRun, sample: SandboxRun) -> str | None:
    """Where ``run`` differs from ``sample`` on ``sample``'s episodes (its first ones, in
    the same order), or ``None``: the resolved parameters, then episode by episode."""
    if run.params != sample.params:
        return f"parameters {run.params} against {sample.params}"
    for mine, theirs in zip(run.outcomes, sample.outcomes):
        ours = (mine.answer, mine.correct, mine.cost, mine.sequential_cost)
        if ours != (theirs.answer, theirs.correct, theirs.cost, theirs.sequential_cost):
            return (
                f"question {mine.question} of replicate {mine.replicate}: answer "
                f"{mine.answer!r}, {mine.cost:g} tokens against {theirs.answer!r}, "
                f"{theirs.cost:g} tokens"
            )
    return None
