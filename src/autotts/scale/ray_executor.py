"""Run evaluation jobs on a Ray cluster, cell by cell, with the local executor's numbers.

Each job is split into cells (:mod:`autotts.evaluation.cells`): a block of its
replicates. The driver loads every replay file once and puts it in Ray's object
store once (Ray copies it to a node the first time a task there needs it; the
workers never read the data files, so the cluster needs none of them). A
controller file's source is read once by the driver and shipped with its cells;
in the Ray worker it still runs in the sandbox (a child process of the Ray
worker), and the Ray worker replays and scores its logs.

Results stream back as cells finish; a job is recorded once all its cells are in,
and :func:`autotts.evaluation.executors.run_jobs` returns them in job order. A Ray
worker that dies mid-cell (a crash, a SIGKILL, a lost node) has its cell re-run by
Ray (task retries); each cell's result is kept under its key exactly once, so a
result can never count twice. Errors of the candidate or the data are not retried:
they come back as the same one-line error the local executor raises.
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import logging
import os
import socket
import time
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from autotts.data.records import ReplaySet
from autotts.errors import AutoTTSError, CandidateRejected, UsageError
from autotts.evaluation.cells import (
    DEFAULT_SEED_BLOCK,
    Cell,
    CellResult,
    combine,
    evaluate_cell,
    plan_cells,
)
from autotts.evaluation.jobs import EvalJob, load_data, runs_in_sandbox
from autotts.evaluation.keeping import keep_for_process_life
from autotts.evaluation.results import EvalResult
from autotts.evaluation.runner import EpisodeRecord
from autotts.extras import needs
from autotts.sandbox import CandidateFile, read_candidate

__all__ = ["INSTALL_HINT", "ClusterError", "RayExecutor", "import_ray"]

INSTALL_HINT = "pip install 'autotts[ray]'"

#: how often Ray re-runs a cell whose worker died (each retry starts the cell afresh)
DEFAULT_RETRIES = 3

#: how often, while sending cells, the cluster's CPUs are read again (RayExecutor.window)
WINDOW_SECONDS = 5.0


class ClusterError(AutoTTSError):
    """The Ray cluster could not be reached, or kept losing the workers of a cell."""


def import_ray() -> Any:
    """The ``ray`` module, or a one-line :class:`UsageError` saying how to install it."""
    with needs("ray", "--executor ray"):
        import ray
    return ray


@dataclass(frozen=True)
class _Failure:
    """An autotts error raised in a cell, carried back as data (exceptions with their own
    constructor arguments do not survive pickling reliably)."""

    kind: str
    message: str
    reason: str = ""
    detail: str = ""

    @classmethod
    def of(cls, exc: AutoTTSError) -> _Failure:
        if isinstance(exc, CandidateRejected):
            return cls("CandidateRejected", str(exc), exc.reason, exc.detail)
        return cls(type(exc).__name__, str(exc))

    def error(self) -> AutoTTSError:
        if self.kind == "CandidateRejected":
            return CandidateRejected(self.reason, self.detail)
        if self.kind == "UsageError":
            return UsageError(self.message)
        return AutoTTSError(self.message)


def _cell_task(
    job: EvalJob, replay: ReplaySet, start: int, stop: int, candidate: CandidateFile | None
) -> CellResult | _Failure:
    """The body of one Ray task (Ray passes ``replay`` from the object store).

    Ray runs many tasks in one worker process, so that process keeps the sandboxed
    worker of the candidate it last ran (:mod:`autotts.evaluation.keeping`, as a
    local pool process does): the next cell of that candidate reuses it, with its
    imports and questions, and on PyPy its warm JIT. It ends with the Ray worker (its
    requests pipe closes)."""
    import ray  # the ray extra: this runs in a Ray worker, where it is installed

    keep_for_process_life()
    try:
        result = evaluate_cell(job, replay, start, stop, candidate)
        return dataclasses.replace(result, node=ray.get_runtime_context().get_node_id())
    except AutoTTSError as exc:
        return _Failure.of(exc)


def _traced_task(
    job: EvalJob, replay: ReplaySet, candidate: CandidateFile | None
) -> list[EpisodeRecord] | _Failure:
    """The body of a traced job's Ray task: every episode's record, trace included."""
    records: list[EpisodeRecord] = []
    try:
        evaluate_cell(
            job,
            replay,
            0,
            job.protocol.replicates,
            candidate,
            trace_sink=lambda _r, _q, record: records.append(record),
        )
    except AutoTTSError as exc:
        return _Failure.of(exc)
    return records


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message (Ray's can run to many lines)."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _check_reachable(address: str) -> None:
    """Fail in seconds, with one line, when ``host:port`` does not accept connections
    (``ray.init`` would otherwise keep retrying for a long time)."""
    if address == "auto" or address.startswith("ray://"):
        return
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit():
        raise UsageError(f"--address must be HOST:PORT or 'auto', got {address!r}")
    try:
        with socket.create_connection((host, int(port)), timeout=3):
            pass
    except OSError as exc:
        raise ClusterError(f"cannot reach a Ray cluster at {address}: {exc}") from None


class RayExecutor:
    """A :class:`~autotts.evaluation.executors.JobExecutor` on Ray.

    ``address`` None starts a private local Ray instance with ``num_cpus`` CPUs (stopped
    again on :meth:`close`); ``"auto"`` or ``HOST:PORT`` joins an existing cluster (see
    ``ray start --head``). Use it as a context manager. ``progress(done, total)`` is
    called as cells finish.
    """

    def __init__(
        self,
        address: str | None = None,
        *,
        num_cpus: int | None = None,
        seed_block: int = DEFAULT_SEED_BLOCK,
        retries: int = DEFAULT_RETRIES,
        progress: Callable[[int, int], None] | None = None,
    ) -> None:
        if seed_block < 1:
            raise UsageError(f"seed block must be >= 1, got {seed_block}")
        self.address = address
        self.num_cpus = num_cpus
        self.seed_block = seed_block
        self.retries = retries
        self.progress = progress
        self._ray: Any = None
        self._started = False
        #: pid of the process that computed each cell of the last run, by cell key
        self.cell_pids: dict[tuple[int, int], int] = {}
        #: the Ray node that computed each cell of the last run, by cell key
        self.cell_nodes: dict[tuple[int, int], str] = {}
        #: how many cells the last run submitted (an early stop leaves the rest unsent)
        self.submitted = 0

    def __enter__(self) -> RayExecutor:
        self.connect()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def connect(self) -> None:
        """Start or join Ray (once); one-line errors for a missing Ray or a bad address."""
        if self._ray is not None:
            return
        ray = import_ray()
        if self.address is not None:
            _check_reachable(self.address)
        options: dict[str, Any] = {
            "include_dashboard": False,
            "log_to_driver": False,
            "logging_level": logging.ERROR,
            "configure_logging": False,
        }
        if self.address is None:
            # "local": always a new private instance, even when a cluster runs on this machine
            options["address"] = "local"
            options["num_cpus"] = self.num_cpus or os.cpu_count() or 1
        else:
            options["address"] = self.address
        if not ray.is_initialized():
            try:
                ray.init(**options)
            except (ConnectionError, RuntimeError, ValueError) as exc:
                where = self.address or "a new local instance"
                first = first_line(exc)
                hint = ""
                if self.address not in (None, "auto") and "RAY_AUTH_MODE" not in os.environ:
                    # Ray sends its token to an explicit address only when told to.
                    hint = (
                        "; a cluster with token authentication (the default of 'ray start') "
                        "needs RAY_AUTH_MODE=token and its token (see 'ray get-auth-token')"
                    )
                raise ClusterError(f"cannot start or join Ray ({where}): {first}{hint}") from None
            self._started = True
        self._ray = ray

    @property
    def ray(self) -> Any:
        """The connected ``ray`` module (after :meth:`connect`)."""
        if self._ray is None:
            raise RuntimeError("RayExecutor.connect() first")
        return self._ray

    def close(self) -> None:
        """Disconnect from Ray (stopping the local instance this executor started)."""
        if self._ray is not None and self._started:
            self._ray.shutdown()
        self._ray = None
        self._started = False

    def run(self, jobs: Sequence[EvalJob], record: Callable[[int, EvalResult], None]) -> None:
        """Run ``jobs`` as cells on Ray; ``record(i, result)`` once per job, as jobs finish."""
        jobs = list(jobs)
        cells = plan_cells(jobs, self.seed_block)
        needed = {i: 0 for i in range(len(jobs))}
        for cell in cells:
            needed[cell.job] += 1
        per_job: dict[int, dict[int, CellResult]] = {}
        replays: dict[Any, ReplaySet] = {}
        with contextlib.closing(self.stream_cells(jobs, cells, replays)) as stream:
            for cell, outcome in stream:
                parts = per_job.setdefault(cell.job, {})
                parts[cell.start] = outcome
                if len(parts) == needed[cell.job]:
                    ordered = [parts[start] for start in sorted(parts)]
                    job = jobs[cell.job]
                    record(cell.job, combine(job, replays[job.data], ordered))

    def stream_cells(
        self,
        jobs: Sequence[EvalJob],
        cells: Sequence[Cell],
        replays: dict[Any, ReplaySet] | None = None,
    ) -> Generator[tuple[Cell, CellResult], None, None]:
        """Submit ``cells`` of ``jobs`` (in that order) and yield each with its result as it
        finishes, each cell once.

        At most :meth:`window` cells are out at a time; the next is submitted as one
        comes back. Closing the iterator early (racing stops, an error, Ctrl-C; use
        :func:`contextlib.closing`) submits no more, and the few still out are left to
        finish on their own, their results dropped: the driver never cancels a task.
        (Ray 2.60 can abort the cancelling process when a cancel crosses a task's own
        completion, "Tried to complete task that was not pending", a race of the kind
        ray-project/ray#54798 fixed for retries; it struck the Ctrl-C test once in CI
        and in 2 local runs of 10, also when cancelling without ``force`` first. On
        Ctrl-C the exiting driver's tasks are stopped by Ray itself.) ``replays``
        receives the replay sets loaded for the jobs, by data reference."""
        self.connect()
        ray = self._ray
        jobs = list(jobs)
        # Loaded once here; put once in the object store, shared by every cell of the file.
        replays = {} if replays is None else replays
        stored: dict[Any, Any] = {}
        candidates: dict[str, CandidateFile] = {}
        for job in jobs:
            if job.data not in replays:
                replays[job.data] = load_data(job.data)
            if job.data not in stored:
                stored[job.data] = ray.put(replays[job.data])
            if runs_in_sandbox(job.spec) and job.spec.name not in candidates:
                candidates[job.spec.name] = read_candidate(job.spec.name)
        task = ray.remote(num_cpus=1, max_retries=self.retries, retry_exceptions=False)(_cell_task)
        queue = iter(cells)
        window, sized = self.window(), time.monotonic()
        pending: dict[Any, Cell] = {}
        self.cell_pids, self.cell_nodes = {}, {}
        self.submitted = 0

        def submit_more() -> None:
            nonlocal window, sized
            if time.monotonic() - sized >= WINDOW_SECONDS:  # the cluster may have grown
                window, sized = self.window(), time.monotonic()
            for cell in itertools.islice(queue, window - len(pending)):
                job = jobs[cell.job]
                ref = task.options(name=f"autotts-cell-{cell.job}-{cell.start}").remote(
                    job, stored[job.data], cell.start, cell.stop, candidates.get(job.spec.name)
                )
                pending[ref] = cell
                self.submitted += 1

        done = 0
        submit_more()
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1)
            for ref in ready:
                cell = pending.pop(ref)
                outcome = self._fetch(ref, cell, jobs)
                submit_more()  # before yielding: the cluster stays busy while we record
                if cell.key in self.cell_pids:  # never count a cell twice
                    continue
                self.cell_pids[cell.key] = outcome.pid
                self.cell_nodes[cell.key] = outcome.node
                done += 1
                if self.progress is not None:
                    self.progress(done, len(cells))
                yield cell, outcome

    def window(self) -> int:
        """How many cells are out at a time: two per CPU of the cluster, so every worker
        has its next cell queued when it finishes one, and an early stop leaves little
        running. Read again every :data:`WINDOW_SECONDS` while cells are sent (an
        autoscaling cluster grows)."""
        cpus = int(self.ray.cluster_resources().get("CPU", 1))
        return max(2, 2 * cpus)

    def traced(self, job: EvalJob) -> list[EpisodeRecord]:
        """Every episode record of ``job``, traces included, computed as one Ray task (the
        trace digests of ``discover --executor ray``); the errors of a local run."""
        self.connect()
        ray = self._ray
        candidate = read_candidate(job.spec.name) if runs_in_sandbox(job.spec) else None
        task = ray.remote(num_cpus=1, max_retries=self.retries, retry_exceptions=False)(
            _traced_task
        )
        pending = task.options(name="autotts-traces").remote(job, load_data(job.data), candidate)
        try:
            outcome = ray.get(pending)
        except ray.exceptions.RayTaskError as exc:
            raise RuntimeError(f"tracing {job.spec.label()} failed in Ray: {exc}") from None
        except ray.exceptions.RayError as exc:
            lost = f"Ray lost the traces of {job.spec.label()}: {first_line(exc)}"
            raise ClusterError(lost) from None
        if isinstance(outcome, _Failure):
            raise outcome.error()
        return list(outcome)

    def _fetch(self, ref: Any, cell: Cell, jobs: list[EvalJob]) -> CellResult:
        ray = self._ray
        job = jobs[cell.job]
        where = f"{job.spec.label()} on {job.data.model}/{job.data.benchmark}"
        try:
            outcome = ray.get(ref)
        except ray.exceptions.RayTaskError as exc:
            # A bug, not a user error: keep Ray's report of the remote traceback.
            raise RuntimeError(f"cell {where} failed in Ray: {exc}") from None
        except ray.exceptions.RayError as exc:
            first = first_line(exc)
            raise ClusterError(
                f"Ray lost cell {where} (replicates {cell.start}..{cell.stop - 1}) after "
                f"{self.retries} retries: {first}"
            ) from None
        if isinstance(outcome, _Failure):
            raise outcome.error()
        if not isinstance(outcome, CellResult):
            raise ClusterError(f"cell {where} returned {type(outcome).__name__}")
        return outcome
