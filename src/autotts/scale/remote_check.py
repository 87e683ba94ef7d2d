"""``autotts check --executor ray``: the whole check of a controller file as one Ray task.

The check is one sandboxed worker playing a fixed sequence (grid, determinism,
look-ahead audit), so it runs as a single task on the cluster, not as cells. The
driver ships the file's bytes and each replay file's bytes through the object store;
the task uses the same paths when they hold the same bytes where it runs (a local
cluster, a shared filesystem), else writes them to a private temporary folder. The
sandbox runs inside the Ray worker as it does locally.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from autotts.checking import check_controller
from autotts.checking.report import CheckReport
from autotts.controllers.registry import split_reference
from autotts.data.catalog import SYNTHETIC
from autotts.errors import UsageError
from autotts.evaluation.executors import JobExecutor
from autotts.evaluation.jobs import DataRef
from autotts.scale.ray_executor import ClusterError, RayExecutor, first_line

__all__ = ["check_here_or_on_ray", "check_on_ray"]


def _same_file(path: Path, content: bytes) -> bool:
    try:
        return path.is_file() and path.read_bytes() == content
    except OSError:
        return False


def _check_task(
    reference: str,
    source: bytes,
    data: list[DataRef],
    blobs: list[bytes | None],
    options: dict[str, Any],
) -> CheckReport | str:
    """The Ray task: the check, with the file and data where this process can read them;
    a usage error comes back as its message (exceptions do not travel reliably)."""
    path, class_name = split_reference(reference)
    scratch = Path(tempfile.mkdtemp(prefix="autotts-check-"))
    try:
        if not _same_file(path, source):
            path = scratch / path.name
            path.write_bytes(source)
        local_refs = []
        for ref, blob in zip(data, blobs):
            if blob is not None and not _same_file(ref.path, blob):
                ref = DataRef(str(scratch / "store"), ref.model, ref.benchmark, ref.answers)
                ref.path.parent.mkdir(parents=True, exist_ok=True)
                ref.path.write_bytes(blob)
            local_refs.append(ref)
        target = f"{path}:{class_name}" if class_name else str(path)
        return check_controller(target, local_refs, **options)
    except UsageError as exc:
        return str(exc)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def check_on_ray(
    reference: str,
    data: Sequence[DataRef],
    executor: RayExecutor,
    **options: Any,
) -> CheckReport:
    """:func:`autotts.checking.check_controller` run as one task on ``executor``'s cluster
    (``options`` are its keyword arguments, except ``progress``)."""
    path, _ = split_reference(reference)
    if not path.is_file():
        raise UsageError(f"controller file {path} does not exist")
    executor.connect()
    ray = executor.ray
    # Passed as one argument, which Ray stores in its object store once.
    blobs = [None if ref.store == SYNTHETIC else ref.path.read_bytes() for ref in data]
    task = ray.remote(num_cpus=1, max_retries=executor.retries, retry_exceptions=False)(_check_task)
    pending = task.options(name="autotts-check").remote(
        reference, path.read_bytes(), list(data), blobs, options
    )
    try:
        report = ray.get(pending)
    except ray.exceptions.RayTaskError:
        raise
    except ray.exceptions.RayError as exc:
        raise ClusterError(f"Ray lost the check of {reference}: {first_line(exc)}") from None
    if isinstance(report, str):
        raise UsageError(report)
    if not isinstance(report, CheckReport):
        raise ClusterError(f"the check on Ray returned {type(report).__name__}")
    return report


def check_here_or_on_ray(
    reference: str,
    data: Sequence[DataRef],
    executor: JobExecutor | None = None,
    **options: Any,
) -> CheckReport:
    """The check where the evaluations run: as one task on the Ray cluster when
    ``executor`` is a :class:`RayExecutor` (``check`` or ``discover --executor ray``),
    else in this process.

    The check is not jobs but one sandboxed worker's fixed sequence, so it is not part
    of the executor protocol: only Ray has a way to run it elsewhere. A ``progress``
    option reports the steps of a check run here (a remote one reports none)."""
    if isinstance(executor, RayExecutor):
        options.pop("progress", None)  # a callable of this process: it cannot travel
        return check_on_ray(reference, data, executor, **options)
    return check_controller(reference, data, **options)
