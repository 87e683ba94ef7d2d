"""One discovery round of a candidate file, as ``autotts discover`` runs it, timed: the
round's check, its curves (44 cells) and its trace digest, each in wall seconds and CPU
seconds of the whole process tree; one JSON line on stdout.

Run:  python benchmarks/round_cpu.py [--candidate FILE:Class] [--workers N]
      [--interpreter auto|cpython|pypy] [--data DIR] [--seeds 100] [--no-digest]

It imports only what every release since ``a090c3f`` has under the same names (and picks,
where a name moved, whichever the release has), so :mod:`versus` runs it under another
checkout's virtualenv to compare releases in one run.
Without ``--workers`` and ``--interpreter`` it takes ``autotts discover``'s defaults where
the release has them (every core; PyPy when ``pypy3`` is on PATH), else that release's own
(one worker, CPython). The result's ``digest`` is a hash of every cell's numbers: equal
digests mean identical curves. ``audited`` counts the cells the audit replayed (drawn
with a key fresh in every run, so it varies from run to run).
"""

from __future__ import annotations

import argparse
import hashlib
import inspect
import json
import os
import time
from pathlib import Path

from proc_cpu import TreeCpu  # beside this script

from autotts.checking import check_controller
from autotts.controllers.registry import ControllerSpec
from autotts.data.catalog import MODELS, SEARCH_BENCHMARK
from autotts.discovery import loop
from autotts.discovery.curves import aggregate, best_point, curve_jobs, evaluate_curves
from autotts.discovery.settings import DEFAULT_BETAS
from autotts.errors import ControllerError
from autotts.evaluation.jobs import EvalJob
from autotts.evaluation.protocols import ReferenceProtocol

HERE = Path(__file__).resolve().parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(HERE.parents[1] / "shared" / "data" / "replay"))
    parser.add_argument(
        "--candidate",
        default=f"{HERE.parent / 'examples/candidates/04_confidence_momentum.py'}"
        ":ConfidenceMomentumPort",
    )
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--interpreter", default=None)
    parser.add_argument("--seeds", type=int, default=100)
    parser.add_argument("--no-check", action="store_true")
    parser.add_argument("--no-digest", action="store_true")
    args = parser.parse_args()
    workers, interpreter = _defaults(args.workers, args.interpreter)
    refs = [_data_ref(args.data, model, SEARCH_BENCHMARK) for model in MODELS]
    out: dict[str, object] = {"workers": workers, "interpreter": interpreter}
    if not args.no_check:
        # The round's check: the grid's ends and middle, one seed (loop.py).
        grid = sorted({DEFAULT_BETAS[0], DEFAULT_BETAS[len(DEFAULT_BETAS) // 2], DEFAULT_BETAS[-1]})
        options: dict[str, object] = {"betas": grid, "seeds": 1}
        if "audited_cells" in inspect.signature(check_controller).parameters:
            options["audited_cells"] = loop.DISCOVERY_CHECK_AUDITS  # type: ignore[attr-defined]
        with _timed(out, "check"):
            report = check_controller(args.candidate, refs, **options)  # type: ignore[arg-type]
        out["verdict"] = report.verdict
        if report.verdict != "accepted":
            out["detail"] = report.detail
            print(json.dumps(out))
            return
    jobs = curve_jobs(args.candidate, refs, DEFAULT_BETAS, ReferenceProtocol(args.seeds))
    jobs = [_on(job, interpreter) for job in jobs]
    with _timed(out, "curves"):
        points = evaluate_curves(jobs, workers=workers)
    # The curves as a run keeps them (curves.json): the audit's records are kept apart.
    curves = [{k: v for k, v in point.items() if k != "audit"} for point in points]
    out["digest"] = hashlib.sha256(json.dumps(curves, sort_keys=True).encode()).hexdigest()[:16]
    out["audited"] = sum(bool(point.get("audit", {}).get("audited")) for point in points)
    out["cells"] = len(jobs)
    best = best_point(aggregate(points))
    if not args.no_digest and best is not None:
        with _timed(out, "trace_digest"):
            for ref in refs:
                spec = ControllerSpec(args.candidate, _beta_of(best))
                try:
                    _traced(EvalJob(ref, spec, ReferenceProtocol(1)))
                except ControllerError as exc:  # the loop keeps the curves and says so
                    out["trace_digest_failed"] = str(exc)[:300]
                    break
    print(json.dumps(out))


def _defaults(workers: int | None, interpreter: str | None) -> tuple[int, str]:
    """``autotts discover``'s defaults in this release, where not given."""
    if workers is None:
        try:
            from autotts.cli.common import all_cores  # type: ignore[attr-defined]

            workers = all_cores(None)
        except ImportError:  # a release that defaulted to one worker
            workers = 1
    if interpreter is None:
        interpreter = "auto"
    try:
        from autotts.evaluation.interpreters import resolve_interpreter

        interpreter = resolve_interpreter(interpreter)
    except ImportError:
        interpreter = "cpython" if interpreter == "auto" else interpreter
    return workers, interpreter


def _data_ref(data: str, model: str, benchmark: str) -> object:
    """A data reference, from wherever this release keeps the class."""
    try:
        from autotts.data.refs import DataRef
    except ImportError:  # releases before the issue-20 layout kept it in evaluation.jobs
        from autotts.evaluation.jobs import DataRef  # type: ignore[attr-defined,no-redef]
    return DataRef(data, model, benchmark)


def _traced(job: EvalJob) -> object:
    """The round's trace digest run as ``autotts discover`` runs it in this release."""
    try:
        from autotts.evaluation.executors import LocalExecutor
    except ImportError:  # releases before the issue-20 layout: the loop found its executor
        return loop._traced(job)  # type: ignore[call-arg]
    return loop._traced(job, LocalExecutor())


def _beta_of(best: object) -> float:
    """The best point's β: a typed record in this release, a dict in releases before it."""
    return float(best["beta"] if isinstance(best, dict) else best.beta)  # type: ignore[attr-defined]


def _on(job: EvalJob, interpreter: str) -> EvalJob:
    from dataclasses import replace

    return replace(job, interpreter=interpreter)


class _timed:
    """Wall and process-tree CPU seconds of a block, into ``out[name + "_wall" / "_cpu"]``."""

    def __init__(self, out: dict[str, object], name: str) -> None:
        self.out, self.name = out, name

    def __enter__(self) -> None:
        self.cpu = TreeCpu().__enter__()
        self.wall = time.perf_counter()

    def __exit__(self, *exc: object) -> None:
        self.cpu.__exit__(*exc)
        self.out[f"{self.name}_wall"] = round(time.perf_counter() - self.wall, 2)
        self.out[f"{self.name}_cpu"] = round(self.cpu.seconds, 2)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONDONTWRITEBYTECODE", "1")
    main()
