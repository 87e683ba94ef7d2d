"""Local worker processes: how a pool is started, and how it is stopped at once.

The one local executor (:class:`~autotts.evaluation.executors.LocalExecutor`) runs jobs
and cells on these pools; nothing else starts one.
"""

from __future__ import annotations

import concurrent.futures as futures
import multiprocessing
import signal
import sys
import threading
from collections.abc import Callable

from autotts.evaluation.keeping import keep_for_process_life

__all__ = ["ignore_sigint", "process_pool", "start_pool_process", "stop_pool"]


def ignore_sigint() -> None:
    """Leave Ctrl-C to the parent, which cancels the workers; otherwise every worker
    would print its own KeyboardInterrupt traceback."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def start_pool_process() -> None:
    """Initializer of a pool process: leave Ctrl-C to the parent, keep sandboxed workers."""
    ignore_sigint()
    keep_for_process_life()


def process_pool(workers: int, initializer: Callable[[], None]) -> futures.ProcessPoolExecutor:
    """A pool of ``workers`` local processes, each started with ``initializer``.

    Forked, which is quickest, unless this process is connected to a Ray cluster: a
    fork of a Ray driver (with its gRPC threads and channels) could leave the driver's
    later tasks waiting forever — a local race run just after a Ray run of a rejected
    file hung the next Ray race in ``ray.wait`` (``pytest tests/scale/test_ray.py -k
    "hostile or racing"``: every run tried while the driver cancelled the rejected
    file's cells, 1 of 9 once it no longer cancelled), with the cluster idle. Then the
    processes come from a fork server, a fresh interpreter that Ray never touched.
    """
    ray = sys.modules.get("ray")
    connected = ray is not None and getattr(ray, "is_initialized", lambda: False)()
    context = multiprocessing.get_context("forkserver") if connected else None
    return futures.ProcessPoolExecutor(
        max_workers=workers, initializer=initializer, mp_context=context
    )


def stop_pool(pool: futures.ProcessPoolExecutor) -> None:
    """Stop ``pool`` now: cancel what has not started, terminate the processes running
    jobs (a running job cannot be cancelled), and wait for its manager thread.

    That thread is taken before ``shutdown()``, which forgets it. Left running, it closes
    its wake-up pipe while the interpreter's exit hook writes to it, a race in
    ``concurrent.futures`` that prints "OSError: Bad file descriptor" after
    "interrupted" (seen in CI with ``--workers 2``)."""
    running = list((getattr(pool, "_processes", None) or {}).values())
    manager = getattr(pool, "_executor_manager_thread", None)
    pool.shutdown(wait=False, cancel_futures=True)
    for process in running:
        process.terminate()
    for process in running:
        process.join(timeout=5)
    if isinstance(manager, threading.Thread):
        manager.join(timeout=10)
