"""Do the PyPy worker's settings (``sandbox.layers.JIT_OPTIONS``, ``PYPY_GC_NURSERY``) pay?

Run:  python benchmarks/pypy_jit.py [--data ../shared/data/replay] [--pairs 3]
      [--cells 12] [--alone]

One kept PyPy worker (``--interpreter pypy``) runs the CMC-shaped example file over
``--cells`` cells (β 1.0, 0.9, …, 0.5 × Qwen3-4B and Qwen3-8B on AIME24, 100 seeds,
round and round), as a worker does in a discovery round: its first cells while the
JIT warms up, then warm ones. It does so with each of three settings, in ``--pairs``
alternating rounds (this machine's speed drifts): PyPy's defaults; ``JIT_OPTIONS``
(the JIT compiles sooner); and ``JIT_OPTIONS`` with ``PYPY_GC_NURSERY`` (a larger
nursery than PyPy derives from the L2 cache), which is what autotts runs. It prints
the CPU seconds of the whole run (this process and the worker) per cell and in
total, and the total of the first 6 cells (warming up) and of the rest.

``--alone`` times the worker's own work instead: one cell (β = 0.5, Qwen3-4B/aime24)
run ``--cells`` times in a bare PyPy process (``benchmarks/pypy_cells.py``: the
worker's episode loop on the same file, questions and episodes, results to
/dev/null), with no evaluator beside it checking the logs on the other core.
"""

from __future__ import annotations

import argparse
import itertools
import json
import subprocess
import tempfile
import time
from pathlib import Path

from autotts.controllers.voting import confidence_table
from autotts.evaluation.jobs import DataRef, load_data
from autotts.evaluation.protocols import ReferenceProtocol
from autotts.evaluation.sandboxed import episode_list, run_in_sandbox
from autotts.sandbox import SandboxLimits, SandboxWorker, layers, read_candidate
from autotts.sandbox.interpreter import pypy_path
from autotts.sandbox.payload import encode_question

ROOT = Path(__file__).resolve().parents[1]
FILE = ROOT / "examples" / "candidates" / "04_confidence_momentum.py"
BETAS = (1.0, 0.9, 0.8, 0.7, 0.6, 0.5)
WARMING = 6  # cells counted as the worker's warm-up in the summary


def cells(data: Path, jit: str, nursery: str, count: int) -> list[float]:
    """CPU seconds of each cell on one kept PyPy worker started with these settings."""
    layers.JIT_OPTIONS, layers.PYPY_GC_NURSERY = jit, nursery
    candidate = read_candidate(str(FILE))
    replays = [load_data(DataRef(str(data), m, "aime24")) for m in ("Qwen3-4B", "Qwen3-8B")]
    protocol = ReferenceProtocol(100)
    out = []
    grid = itertools.islice(itertools.cycle(itertools.product(BETAS, replays)), count)
    with SandboxWorker(SandboxLimits(interpreter="pypy")) as worker:
        for beta, replay in grid:
            before, started = worker.reported_cpu_seconds, time.process_time()
            worker.load(candidate.source, str(candidate.path), candidate.class_name)
            run_in_sandbox(candidate, replay, protocol, beta=beta, worker=worker)
            out.append(time.process_time() - started + worker.reported_cpu_seconds - before)
    return out


def alone(cell: Path, jit: str, nursery: str, count: int) -> list[float]:
    """CPU seconds of each run of the cell in ``cell`` in a bare PyPy process."""
    pypy = pypy_path()
    assert pypy is not None
    script = ROOT / "benchmarks" / "pypy_cells.py"
    done = subprocess.run(
        [pypy, *(["--jit", jit] if jit else []), str(script), str(cell), str(count)],
        env={"PATH": "/usr/bin:/bin", **({"PYPY_GC_NURSERY": nursery} if nursery else {})},
        capture_output=True,
        text=True,
        check=True,
    )
    return [float(line) for line in done.stdout.split()]


def write_cell(data: Path, folder: Path) -> Path:
    """The cell ``--alone`` runs, as the JSON ``pypy_cells.py`` reads."""
    replay = load_data(DataRef(str(data), "Qwen3-4B", "aime24"))
    candidate = read_candidate(str(FILE))
    cell = {
        "source": candidate.source,
        "filename": str(candidate.path),
        "beta": 0.5,
        "questions": [encode_question(q) for q in replay.questions],
        "episodes": [(q, order) for _, q, order in episode_list(replay, ReferenceProtocol(100))],
        "rows": confidence_table().tolist(),
    }
    path = folder / "cell.json"
    path.write_text(json.dumps(cell))
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "replay")
    parser.add_argument("--pairs", type=int, default=3)
    parser.add_argument("--cells", type=int, default=12)
    parser.add_argument(
        "--alone", action="store_true", help="time the worker's own work in a bare PyPy process"
    )
    args = parser.parse_args()
    if pypy_path() is None:
        raise SystemExit("pypy_jit: no pypy3 on PATH")
    jit, nursery = layers.JIT_OPTIONS, layers.PYPY_GC_NURSERY
    settings = {
        "PyPy's defaults": ("", ""),
        f"--jit {jit}": (jit, ""),
        f"--jit {jit}, PYPY_GC_NURSERY={nursery}": (jit, nursery),
    }
    runs: dict[str, list[list[float]]] = {name: [] for name in settings}
    scratch = tempfile.TemporaryDirectory()
    cell = write_cell(args.data, Path(scratch.name)) if args.alone else None
    for _ in range(args.pairs):
        for name, (j, n) in settings.items():
            got = alone(cell, j, n, args.cells) if cell else cells(args.data, j, n, args.cells)
            runs[name].append(got)
            print(f"{name:<72} {sum(got):6.1f} CPU-s: " + " ".join(f"{c:.2f}" for c in got))
    scratch.cleanup()
    print()
    for name, got in runs.items():
        first = sum(sum(r[:WARMING]) for r in got) / len(got)
        rest = sum(sum(r[WARMING:]) for r in got) / len(got)
        total = sum(map(sum, got)) / len(got)
        print(
            f"{name:<72} mean {total:6.1f} CPU-s over {len(got)} runs "
            f"(first {WARMING} cells {first:5.1f}, the rest {rest:5.1f})"
        )


if __name__ == "__main__":
    main()
