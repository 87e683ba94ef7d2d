"""How fast does a controller *file* evaluate one cell, and where does the time go?

Run:  python benchmarks/file_speed.py [--data ../shared/data/replay] [--model Qwen3-4B]
      [--benchmark aime24] [--beta 0.5] [--seeds 100] [--repeats 1] [--skip-scaling]
      [--published DIR]

One cell = one model × benchmark file, one β, the reference protocol (100 seeds =
3,000 episodes). The controller is the example CMC-shaped file
(``examples/candidates/04_confidence_momentum.py``). One run prints, in order:

1. a plain-Python calibration loop, so figures can be compared across machines;
2. the cell through each path below, with per-cell time, ratios and an identical-numbers
   check (per episode: correct, tokens, longest branch):
   *plain*: a reference-style path written here after spec/replay-protocol.md §2
   the way the published code does it (per seed every question rebuilt from the
   file's lists, ``random.Random(seed).shuffle``, an object with ``pos``/``charged``
   lists and ``explore()`` per read); *today*: ``run_episodes(fast=False)``
   (Episode + StepLimitedSession) and the sandbox with ``fast=False`` (general
   session in the worker, call-by-call replay in the evaluator); *lean*: the same
   two with :class:`~autotts.env.fast_session.FastSession` and the whole-log check;
   and, where ``pypy3`` is installed, the cell as ``--interpreter pypy`` runs it: on
   a PyPy worker kept across the rounds, plus the CPython agreement sample (the
   cell's first replicate on a kept CPython worker, compared); its first, cold cell
   printed apart; and, with ``--published DIR``, *the published code itself*
   running its own CMC (below);
3. per controller kind (sc, asc, esc, parallel-probe, cmc, swc, and the file):
   episodes/s and reads/s through the episode-by-episode (file) path, and
   episodes/s through the built-in vectorised path;
4. how the lean path's time grows with questions, branches (sub-pools) and seeds,
   with the fitted order;
5. peak memory of this process and of its sandboxed workers.

``--published DIR`` times the cell through the published code, which this
repository does not contain. DIR holds the published ``data_loader.py`` (it replays
the file) and a ``method.py`` whose ``OptimalController`` is the CMC, as in
``efficient_reasoning_controller/eval`` of a checkout of
https://github.com/zhengkid/AutoTTS (its README says that folder's ``method.py`` is
a working controller, and prints the CMC's source; at commit ``6daad63``,
``workspace/code_base/method.py`` holds only a template of the class). It runs as
the published ``eval.py`` runs one method (``ModelandTask.evaluate``, 100 seeds,
the per-step trace records its methods keep), but in this process, without
``eval.py``'s deep copy, worker pool or trace file. Its per-episode correctness and
tokens (from the traces it returns) are checked against every other path, which
also shows whether DIR's class is the CMC. It needs ``--seeds 100`` (the published
loop's fixed count), and runs its own class, not the example file, at ``--beta``.

Times are CPU seconds (this process plus, for the sandbox, the worker's own
report) unless marked wall; the best of ``--repeats`` runs, which for the paths of
part 2 are interleaved rounds (every path once per round). The load average is
printed at the start and the end: on a shared machine, compare ratios from one run.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import os
import random
import resource
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from autotts.controllers.registry import REGISTRY, ControllerSpec, build, load_controller_class
from autotts.data.loading import load_replay
from autotts.data.records import ReplaySet
from autotts.env.fast_session import FastSession
from autotts.evaluation.interpreters import InterpreterPolicy, run_file
from autotts.evaluation.keeping import keeping_workers
from autotts.evaluation.kept_workers import KeptWorkers
from autotts.evaluation.protocols import EvaluationProtocol, ReferenceProtocol, SubsampleProtocol
from autotts.evaluation.runner import EpisodeTable, run_episodes
from autotts.evaluation.sandboxed import run_in_sandbox
from autotts.sandbox import SandboxWorker, read_candidate
from autotts.sandbox.interpreter import pypy_path

ROOT = Path(__file__).resolve().parents[1]
FILE = f"{ROOT / 'examples/candidates/04_confidence_momentum.py'}:ConfidenceMomentumPort"
KINDS = ["sc", "asc", "esc", "parallel-probe", "cmc", "swc"]
#: untimed cells a kept PyPy worker runs before the timed rounds (its JIT warming up)
PYPY_WARM_CELLS = 5


def calibration() -> float:
    """Seconds for a fixed plain-Python loop (integer arithmetic, a list, a dict)."""
    start = time.process_time()
    total, seen, bag = 0, [0] * 64, {}
    for i in range(2_000_000):
        j = i & 63
        seen[j] += 1
        total += (i * 7) % 13
        if j == 0:
            bag[i % 97] = total
    assert total > 0 and bag
    return time.process_time() - start


class PlainQuestion:
    """One question under one seed, the way the published code replays it (spec §2)."""

    def __init__(self, item: dict[str, Any], seed: int) -> None:
        self.branches = [list(b) for b in item["each_branch"]]
        random.Random(seed).shuffle(self.branches)
        self.probe_freq = item["probe_freq"]
        n = len(self.branches)
        self.opened, self.pos, self.charged, self.cost = 0, [0] * n, [0] * n, 0
        self.done = [False] * n
        self.tracing = False

    def explore(self, i: int) -> tuple[str, bool]:
        probes, tokens, final = self.branches[i]
        if self.done[i]:
            return final, True
        if self.pos[i] < len(probes):
            answer = probes[self.pos[i]]
            self.pos[i] += 1
            self._charge(i, self.probe_freq)
            return answer, False
        self._charge(i, max(0, tokens - self.charged[i]))
        self.done[i] = True
        return final, True

    def _charge(self, i: int, tokens: int) -> None:
        self.charged[i] += tokens
        self.cost += tokens

    def probe_new(self) -> tuple[str, int, bool]:
        if self.opened >= len(self.branches):
            raise IndexError("no more branches")
        i = self.opened
        self.opened += 1
        answer, finished = self.explore(i)
        return answer, i, finished

    def probe_more(self, i: int) -> tuple[str, bool]:
        return self.explore(i)

    def get_new_branch_final_answer(self) -> str:
        i = self.opened
        self.opened += 1
        self._charge(i, self.branches[i][1])
        self.done[i] = True
        return str(self.branches[i][2])

    full_read = get_new_branch_final_answer

    @property
    def can_branch(self) -> bool:
        return self.opened < len(self.branches)

    def trace(self, *args: Any, **kwargs: Any) -> None:
        pass


def published_beta_confidence(top1: int, top2: int) -> float:
    """Spec §4's Beta majority confidence, computed the published way on every call."""
    from scipy.stats import beta

    return 0.0 if top1 <= 0 else float(1 - beta.cdf(0.5, top1 + 1, top2 + 1))


class PublishedCode:
    """The published code's own CMC over one cell (``--published DIR``, see above)."""

    SEEDS = 100  # the published evaluation loop's fixed seed count

    def __init__(self, folder: Path, data: Path, model: str, benchmark: str) -> None:
        loader, method = (module(folder / f"{name}.py") for name in ("data_loader", "method"))
        # ModelandTask reads <folder>/<model>/<benchmark>.json from the working directory,
        # the folder being code_base/environment (workspace/) or test_environment (eval/):
        # a scratch directory where both are the replay folder.
        with tempfile.TemporaryDirectory() as scratch:
            (Path(scratch) / "code_base").mkdir()
            (Path(scratch) / "code_base" / "environment").symlink_to(data.resolve())
            (Path(scratch) / "test_environment").symlink_to(data.resolve())
            here = os.getcwd()
            os.chdir(scratch)
            try:
                self.task = loader.ModelandTask(model, benchmark)
            finally:
                os.chdir(here)
        self.controller_class = method.OptimalController

    def cell(self, beta: float) -> EpisodeTable:
        """One cell as ``eval.py`` evaluates one method; the longest branch, which the
        published code does not report, is left NaN (not compared)."""
        result = self.task.evaluate(self.controller_class(config={"beta": beta}))
        shape = (self.SEEDS, len(self.task))
        correct, cost = np.zeros(shape, bool), np.zeros(shape)
        # One record per episode, seed by seed in order. (Its "shuffle_seed" is always 0:
        # the published loop's seed variable is `_`, which the loop body reassigns.)
        for i, episode in enumerate(result["traces"]):
            at = i // shape[1], episode["question_index"]
            correct[at], cost[at] = episode["is_correct"], episode["cost"]
        return EpisodeTable(correct, cost, np.full(shape, np.nan))


def module(path: Path) -> Any:
    """The Python file at ``path``, imported under a name of its own."""
    spec = importlib.util.spec_from_file_location(f"published_{path.stem}", path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"file_speed: cannot import {path}")
    loaded = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(loaded)
    return loaded


def plain_path(controller: Any, items: list[dict[str, Any]], seeds: int) -> EpisodeTable:
    shape = (seeds, len(items))
    correct, cost, seq = np.zeros(shape, bool), np.zeros(shape), np.zeros(shape)
    for seed in range(seeds):
        for q, item in enumerate(items):
            question = PlainQuestion(item, seed)
            answer = controller.solve(question)
            correct[seed, q] = answer is not None and answer == item["gold_answer"]
            cost[seed, q], seq[seed, q] = question.cost, max(question.charged)
    return EpisodeTable(correct, cost, seq)


def same(a: EpisodeTable, b: EpisodeTable) -> bool:
    """Every episode's numbers equal; a NaN longest branch (the published code reports
    none) is not compared."""
    seq_a, seq_b = a.sequential_cost, b.sequential_cost
    known = ~(np.isnan(seq_a) | np.isnan(seq_b))
    return (
        np.array_equal(a.correct, b.correct)
        and np.array_equal(a.cost, b.cost)
        and np.array_equal(seq_a[known], seq_b[known])
    )


def timed(fn: Callable[[], Any]) -> tuple[Any, float, float]:
    """``(result, CPU s, wall s)`` of one run of ``fn``."""
    c, w = time.process_time(), time.perf_counter()
    result = fn()
    return result, time.process_time() - c, time.perf_counter() - w


def best(repeats: int, fn: Callable[[], Any]) -> tuple[Any, float, float]:
    """``(result, CPU s, wall s)``: the best of ``repeats`` runs."""
    runs = [timed(fn) for _ in range(repeats)]
    return runs[0][0], min(r[1] for r in runs), min(r[2] for r in runs)


def sandboxed(
    candidate: Any, replay: ReplaySet, protocol: EvaluationProtocol, beta: float, fast: bool
) -> tuple[EpisodeTable, float, float]:
    """One cell in a warm sandboxed worker: ``(table, CPU s of both processes, wall s)``."""
    with SandboxWorker() as worker:
        worker.load(candidate.source, str(candidate.path), candidate.class_name)
        run_in_sandbox(candidate, replay, ReferenceProtocol(1), beta=beta, worker=worker)
        before = worker.reported_cpu_seconds
        c, w = time.process_time(), time.perf_counter()
        run = run_in_sandbox(candidate, replay, protocol, beta=beta, worker=worker, fast=fast)
        cpu, wall = time.process_time() - c, time.perf_counter() - w
        return run.table, cpu + worker.reported_cpu_seconds - before, wall


class BareSession(FastSession):
    """A lower bound, not a session to use: a read is a bare ``next()`` (no checks, no log)."""

    __slots__ = ()

    def probe_more(self, branch: int) -> tuple[str, bool]:
        return next(self._iters[branch])


def controller_only(controller: Any, replay: ReplaySet, protocol: EvaluationProtocol) -> None:
    """Every episode with :class:`BareSession`: what the controller's own code costs."""
    for q, question in enumerate(replay.questions):
        for order in protocol.orders(question.n_branches, q).tolist():
            controller.solve(BareSession(question, order))


def lean_reads(controller: Any, replay: ReplaySet, protocol: EvaluationProtocol) -> int:
    """Session reads of every episode on the lean path (what the runner does, counted)."""
    reads = 0
    for q, question in enumerate(replay.questions):
        for order in protocol.orders(question.n_branches, q).tolist():
            session = FastSession(question, order)
            controller.solve(session)
            reads += len(session.log)
    return reads


def slope(xs: list[float], ys: list[float]) -> float:
    """Least-squares exponent k of y ∝ x^k."""
    lx, ly = np.log(xs), np.log(ys)
    return float(np.polyfit(lx, ly, 1)[0])


class KeptPyPy:
    """A cell as ``--interpreter pypy`` runs it in a round, where a process runs a dozen
    cells or more of one candidate (:func:`~autotts.evaluation.interpreters.run_file`
    on kept workers): on a PyPy worker kept across cells, which loads the file again in
    a fresh module each cell (the JIT's compiled loops survive, the module's state does
    not), then the cell's first replicate on a kept CPython worker, compared. The first,
    cold cell is timed apart; :meth:`warm` runs a few more untimed."""

    def __init__(self, candidate: Any, replay: ReplaySet, beta: float) -> None:
        self.candidate, self.replay, self.beta = candidate, replay, beta
        self.keeping = contextlib.ExitStack()
        self.context = self.keeping.enter_context(keeping_workers())
        self.cold: tuple[float, float] | None = None
        #: a cell's CPU seconds -> (this process, the PyPy worker, the CPython sample)
        self.splits: dict[float, tuple[float, float, float]] = {}

    def cell(self, protocol: EvaluationProtocol) -> tuple[EpisodeTable, float, float]:
        # Every cell as the first of its job (a round's 44 cells are 44 jobs): compared.
        self.context.interpreters = InterpreterPolicy()
        before = workers_cpu_by_interpreter(self.context.workers)
        c, w = time.process_time(), time.perf_counter()
        run = run_file(
            self.candidate, self.replay, protocol, beta=self.beta, params=None,
            max_steps=None, interpreter="pypy", workers=self.context.workers,
            policy=self.context.interpreters,
        )  # fmt: skip
        cpu, wall = time.process_time() - c, time.perf_counter() - w
        after = workers_cpu_by_interpreter(self.context.workers)
        pypy_cpu, sample_cpu = (after.get(i, 0.0) - before.get(i, 0.0) for i in ("pypy", "cpython"))
        self.splits[cpu + pypy_cpu + sample_cpu] = (cpu, pypy_cpu, sample_cpu)
        cpu += pypy_cpu + sample_cpu
        if self.candidate.sha256 in self.context.interpreters.cpython_only:
            raise SystemExit("the file did not run on PyPy: its PyPy numbers differ or failed")
        if self.cold is None:
            self.cold = (cpu, wall)
        return run.table, cpu, wall

    def warm(self, protocol: EvaluationProtocol, cells: int) -> None:
        for _ in range(cells):
            self.cell(protocol)

    def close(self) -> None:
        self.keeping.close()


def workers_cpu_by_interpreter(kept: KeptWorkers) -> dict[str, float]:
    """CPU seconds the kept sandboxed workers reported so far, by interpreter."""
    out: dict[str, float] = {}
    for worker in kept.workers():
        name = worker.limits.interpreter
        out[name] = out.get(name, 0.0) + worker.reported_cpu_seconds
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "replay")
    parser.add_argument("--model", default="Qwen3-4B")
    parser.add_argument("--benchmark", default="aime24")
    parser.add_argument("--beta", type=float, default=0.5)
    parser.add_argument("--seeds", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--skip-scaling", action="store_true")
    parser.add_argument(
        "--published",
        type=Path,
        metavar="DIR",
        help="a folder with the published data_loader.py and a method.py whose "
        "OptimalController is the CMC (efficient_reasoning_controller/eval of a checkout of "
        "github.com/zhengkid/AutoTTS): also time the published code's own CMC",
    )
    args = parser.parse_args()
    if args.published is not None:
        missing = [n for n in ("data_loader.py", "method.py") if not (args.published / n).is_file()]
        if missing:
            sys.exit(f"file_speed: --published {args.published} has no {', '.join(missing)}")
        if args.seeds != PublishedCode.SEEDS:
            sys.exit(f"file_speed: --published needs --seeds {PublishedCode.SEEDS}")
    path = args.data / args.model / f"{args.benchmark}.json"
    if not path.is_file():
        sys.exit(f"file_speed: no replay file {path} (pass --data)")
    print(f"load average at start: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    cal = calibration()
    print(f"calibration: plain-Python loop of 2M iterations in {cal:.3f} CPU-s")

    replay = load_replay(path)
    items = json.loads(path.read_text())
    protocol = ReferenceProtocol(args.seeds)
    cls = load_controller_class(FILE, trusted=True)
    controller = cls(args.beta)
    candidate = read_candidate(FILE)
    episodes = args.seeds * len(replay)
    print(f"\n== one cell: {Path(FILE.split(':')[0]).name} β={args.beta} on {replay.name}, ")
    print(f"   {args.seeds} seeds = {episodes} episodes")

    helpers = cls.solve.__globals__
    ours = helpers["beta_confidence"]
    published_beta_confidence(1, 1)  # import SciPy outside the timing

    def published_path() -> EpisodeTable:
        # The published code computes the Beta confidence with scipy.stats.beta.cdf on
        # every call (spec §4); the file's module gets that helper for this one run.
        helpers["beta_confidence"] = published_beta_confidence
        try:
            return plain_path(controller, items, args.seeds)
        finally:
            helpers["beta_confidence"] = ours

    builtin = build(ControllerSpec("cmc", args.beta))
    pypy = KeptPyPy(candidate, replay, args.beta) if pypy_path() is not None else None
    if pypy is not None:
        pypy.warm(protocol, PYPY_WARM_CELLS)
    original = (
        PublishedCode(args.published, args.data, args.model, args.benchmark)
        if args.published is not None
        else None
    )
    paths: dict[str, Callable[[], tuple[Any, float, float]]] = {
        "published": lambda: timed(published_path),
        "plain": lambda: timed(lambda: plain_path(controller, items, args.seeds)),
        "today": lambda: timed(
            lambda: run_episodes(controller, replay, protocol, vectorised=False, fast=False)
        ),
        "lean": lambda: timed(lambda: run_episodes(controller, replay, protocol, vectorised=False)),
        "today, sandboxed": lambda: sandboxed(candidate, replay, protocol, args.beta, False),
        "lean, sandboxed": lambda: sandboxed(candidate, replay, protocol, args.beta, True),
        "bare": lambda: timed(lambda: controller_only(controller, replay, protocol)),
        **({"lean, sandboxed, pypy": lambda: pypy.cell(protocol)} if pypy is not None else {}),
        "kernel": lambda: timed(lambda: run_episodes(builtin, replay, protocol)),
        **({"published code": lambda: timed(lambda: original.cell(args.beta))} if original else {}),
    }
    # Interleaved: every path once per round, the best of the rounds kept. This
    # machine's speed drifts by tens of percent over a minute; rounds of all paths see
    # the same drift, so the ratios between paths stay fair.
    runs: dict[str, list[tuple[Any, float, float]]] = {name: [] for name in paths}
    for _ in range(args.repeats):
        for name, run in paths.items():
            runs[name].append(run())
    fastest = {
        name: (got[0][0], min(r[1] for r in got), min(r[2] for r in got))
        for name, got in runs.items()
    }
    published, published_cpu, _ = fastest["published"]
    plain, plain_cpu, _ = fastest["plain"]
    today, today_cpu, _ = fastest["today"]
    lean, lean_cpu, _ = fastest["lean"]
    boxes = {False: fastest["today, sandboxed"], True: fastest["lean, sandboxed"]}
    bare_cpu, kernel_cpu = fastest["bare"][1], fastest["kernel"][1]

    rows = [
        ("plain + published helper (beta.cdf per call)", published_cpu, ""),
        ("plain reference-style, this library's helpers", plain_cpu, ""),
        ("today, in process (Episode+StepLimitedSession)", today_cpu, ""),
        ("lean, in process (FastSession)", lean_cpu, ""),
        ("today, sandboxed (worker + call-by-call replay)", boxes[False][1], boxes[False][2]),
        ("lean, sandboxed (FastSession + whole-log check)", boxes[True][1], boxes[True][2]),
        ("built-in cmc, vectorised (a different controller)", kernel_cpu, ""),
    ]
    for name, cpu, wall in rows:
        extra = f"  ({wall:.2f} s wall)" if wall else ""
        print(f"  {name:<52} {cpu:7.2f} CPU-s  {episodes / cpu:8.0f} episodes/s{extra}")
    print(
        f"  the controller's own code (reads cut to a bare next()): {bare_cpu:.2f} CPU-s, "
        f"so the lean environment takes {lean_cpu - bare_cpu:.2f} of the lean {lean_cpu:.2f}"
    )
    print(f"  lean vs today, in process : {today_cpu / lean_cpu:5.2f}x")
    print(
        f"  lean vs today, sandboxed  : {boxes[False][1] / boxes[True][1]:5.2f}x CPU, "
        f"{boxes[False][2] / boxes[True][2]:5.2f}x wall"
    )
    print(f"  lean vs plain, in process : {plain_cpu / lean_cpu:5.2f}x")
    print(f"  lean sandboxed vs plain   : {plain_cpu / boxes[True][1]:5.2f}x CPU")
    print(f"  lean vs plain + published helper, in process : {published_cpu / lean_cpu:5.2f}x")
    print(
        f"  lean sandboxed vs plain + published helper   : {published_cpu / boxes[True][1]:5.2f}x"
    )
    tables = [plain, today, lean, boxes[False][0], boxes[True][0]]
    if pypy is not None and pypy.cold is not None:
        on_pypy, pypy_cpu, pypy_wall = fastest["lean, sandboxed, pypy"]
        tables.append(on_pypy)
        print(
            f"  lean, sandboxed, PyPy worker + CPython sample (--interpreter pypy), kept: "
            f"{pypy_cpu:.2f} CPU-s ({pypy_wall:.2f} s wall), {episodes / pypy_cpu:.0f} "
            f"episodes/s, after {PYPY_WARM_CELLS} untimed cells; its first, cold cell "
            f"{pypy.cold[0]:.2f} CPU-s ({pypy.cold[1]:.2f} s wall)"
        )
        evaluator, worker, sample = pypy.splits[pypy_cpu]
        print(
            f"    of which the evaluator (this process) {evaluator:.3f}, the PyPy worker "
            f"{worker:.3f}, the CPython sample's worker {sample:.3f} CPU-s"
        )
        print(
            f"  PyPy vs CPython, sandboxed : {boxes[True][1] / pypy_cpu:5.2f}x CPU, "
            f"{boxes[True][2] / pypy_wall:5.2f}x wall"
        )
        print(f"  PyPy sandboxed vs plain + published helper   : {published_cpu / pypy_cpu:5.2f}x")
        pypy.close()
    else:
        print("  (no pypy3 on PATH: the PyPy worker's path is not measured)")
    if original is not None:
        code, code_cpu, code_wall = fastest["published code"]
        tables.append(code)
        print(
            f"  the published code, its own CMC (--published; data_loader.py + "
            f"OptimalController): {code_cpu:.2f} CPU-s ({code_wall:.2f} s wall), "
            f"{episodes / code_cpu:.0f} episodes/s"
        )
        against = [
            ("plain + published helper (the model above)", published_cpu),
            ("lean, sandboxed, CPython", boxes[True][1]),
            ("today, sandboxed", boxes[False][1]),
        ]
        if pypy is not None and pypy.cold is not None:
            against.append(("lean, sandboxed, PyPy + sample", fastest["lean, sandboxed, pypy"][1]))
        for name, cpu in against:
            print(f"  {name + ' vs the published code':<62}: {code_cpu / cpu:6.2f}x")
    identical = all(same(published, t) for t in tables)
    print(f"  identical numbers (every episode, all {len(tables) + 1} paths): {identical}")

    print(f"\n== per controller kind, β={args.beta}, {episodes} episodes")
    print(
        f"  {'controller':<26} {'file path':>10} {'episodes/s':>11} {'reads/s':>10} "
        f"{'built-in':>9} {'episodes/s':>11}"
    )
    kinds: list[tuple[str, Any, Any]] = [
        (k, build(ControllerSpec(k, args.beta)), None) for k in KINDS if k in REGISTRY
    ]
    kinds.append(("cmc-shaped file", controller, None))
    for name, ctl, _ in kinds:
        _, t_file, _ = best(
            args.repeats, lambda c=ctl: run_episodes(c, replay, protocol, vectorised=False)
        )
        reads = lean_reads(ctl, replay, protocol)
        line = f"  {name:<26} {t_file:9.2f}s {episodes / t_file:11.0f} {reads / t_file:10.0f}"
        if ctl.vectorised() is not None:
            _, t_vec, _ = best(args.repeats, lambda c=ctl: run_episodes(c, replay, protocol))
            line += f" {t_vec:8.3f}s {episodes / t_vec:11.0f}"
        print(line)

    if not args.skip_scaling:
        print("\n== growth of the lean path's time (CMC-shaped file, in process)")
        scale(controller, replay, args.seeds)

    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    workers = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"\npeak memory: this process {own:.0f} MB, largest sandboxed worker {workers:.0f} MB")
    print(f"load average at end: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")


def scale(controller: Any, replay: ReplaySet, seeds: int) -> None:
    def cpu(data: ReplaySet, protocol: EvaluationProtocol) -> float:
        return best(1, lambda: run_episodes(controller, data, protocol, vectorised=False))[1]

    sizes = [len(replay) // 3, 2 * len(replay) // 3, len(replay)]
    times = [
        cpu(
            replace(
                replay,
                questions=replay.questions[:n],
                gold=replay.gold[:n],
                gold_ids=replay.gold_ids[:n],
            ),
            ReferenceProtocol(seeds // 4),
        )
        for n in sizes
    ]
    report("questions", sizes, times, f"{seeds // 4} seeds")
    counts = [seeds // 4, seeds // 2, seeds]
    times = [cpu(replay, ReferenceProtocol(n)) for n in counts]
    report("seeds", counts, times, f"{len(replay)} questions")
    pools = [16, 32, 64, min(128, replay.questions[0].n_branches)]
    times = [cpu(replay, SubsampleProtocol(draws=seeds // 4, size=n)) for n in pools]
    report("branches (sub-pool size)", pools, times, f"{seeds // 4} draws")


def report(what: str, xs: list[int], ys: list[float], fixed: str) -> None:
    k = slope([float(x) for x in xs], ys)
    cells = ", ".join(f"{x}: {y:.2f}s" for x, y in zip(xs, ys))
    print(f"  {what:<26} {cells}  ({fixed}) → time ∝ {what.split()[0]}^{k:.2f}")


if __name__ == "__main__":
    main()
