"""``--executor`` and ``--address``: where a command's evaluations run (local processes or Ray)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import typer

from autotts.errors import UnknownName, UsageError
from autotts.evaluation.executors import JobExecutor

__all__ = ["ADDRESS", "EXECUTOR", "EXECUTORS", "executor_scope"]

EXECUTORS = ("local", "ray")

EXECUTOR = typer.Option(
    "local",
    "--executor",
    help="Where evaluations run: local (this machine's processes, --workers) or ray "
    "(cells of controller × β × file × seed block on a Ray cluster; "
    # "\\[": the help renderer reads "[ray]" as a style tag and would drop it.
    "pip install 'autotts\\[ray]').",
)
ADDRESS = typer.Option(
    None,
    "--address",
    metavar="HOST:PORT|auto",
    help="With --executor ray: the cluster to join (its head's HOST:PORT as printed by "
    "'ray start --head', or 'auto' for the one running on this machine). Default: a private "
    "local Ray instance with --workers CPUs (all cores when --workers is 1), stopped at the end.",
)


@contextmanager
def executor_scope(
    executor: str,
    address: str | None,
    workers: int,
    progress: Callable[[int, int], None] | None = None,
    *,
    num_cpus: int | None = None,
) -> Iterator[JobExecutor | None]:
    """The executor ``--executor`` names, open for the block: None for ``local`` (the
    evaluation entry points then use this machine's ``--workers`` processes), a connected
    :class:`~autotts.scale.RayExecutor` for ``ray`` (closed on leaving); the command
    passes it on. ``progress(done, total)`` counts Ray cells as they finish; a private
    local Ray instance gets ``num_cpus`` CPUs (default: ``workers``, every core for 1)."""
    if executor not in EXECUTORS:
        raise UnknownName("executor", executor, EXECUTORS)
    if executor == "local":
        if address is not None:
            raise UsageError("--address needs --executor ray")
        yield None
        return
    # the ray extra, only for --executor ray
    from autotts.scale import RayExecutor

    cpus = num_cpus or (workers if workers > 1 else None)
    with RayExecutor(address, num_cpus=cpus, progress=progress) as ray:
        yield ray
