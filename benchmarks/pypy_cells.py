"""The worker's side of ``pypy_jit.py --alone``: one cell run again and again in this
PyPy process, without an evaluator beside it.

Run by ``pypy_jit.py`` as ``pypy3 [--jit ...] benchmarks/pypy_cells.py CELL.json CELLS``
(with the nursery setting in the environment), where CELL.json holds the file's source,
β, the gold-free questions, the episodes and the confidence table. Loads the file
fresh for each cell and runs its episodes as a kept worker does
(:func:`autotts.sandbox.worker._run`, results written to /dev/null), and prints the
CPU seconds of each cell, one per line. Python 3.9, standard library only.
"""

import importlib.util
import json
import os
import sys
import time


def main() -> None:
    path, count = sys.argv[1], int(sys.argv[2])
    boot = os.path.join(
        os.path.dirname(__file__), "..", "src", "autotts", "sandbox", "pypy_boot.py"
    )
    spec = importlib.util.spec_from_file_location("pypy_boot", os.path.abspath(boot))
    pypy_boot = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(pypy_boot)
    pypy_boot._packages()  # autotts's packages, without their NumPy-importing __init__s
    from autotts.controllers.voting import use_table_rows
    from autotts.env.limits import DEFAULT_MAX_STEPS
    from autotts.sandbox import worker
    from autotts.sandbox.plain import PlainQuestion

    with open(path) as f:
        cell = json.load(f)
    use_table_rows(cell["rows"])
    questions = [PlainQuestion(q) for q in cell["questions"]]
    with open(os.devnull, "wb", buffering=1 << 16) as out:
        for _ in range(count):
            started = time.process_time()
            candidate = worker.Candidate(cell["source"], cell["filename"], None)
            candidate.build(cell["beta"], {})
            worker._run(
                candidate, questions, cell["episodes"], False, out, DEFAULT_MAX_STEPS, True, True
            )
            print(f"{time.process_time() - started:.4f}", flush=True)


if __name__ == "__main__":
    main()
