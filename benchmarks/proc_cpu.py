"""CPU seconds of this process and every process it started, sampled from /proc.

``getrusage(RUSAGE_CHILDREN)`` misses the sandboxed workers: bubblewrap's monitor
exits without reaping the namespace's init, so a worker's CPU never reaches its
grandparent's account. This sampler reads utime + stime of every descendant from
``/proc/<pid>/stat`` every ``interval`` seconds and keeps each process's last value,
so at most the final ``interval`` of a process's life goes uncounted (Linux only;
elsewhere it reports this process's own CPU). The sampling thread's own CPU is
left out.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

__all__ = ["TreeCpu"]

_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


class TreeCpu:
    """Use as a context manager; ``seconds`` is the tree's CPU while it was open."""

    def __init__(self, interval: float = 0.2) -> None:
        self.interval = interval
        self._seen: dict[tuple[int, int], float] = {}  # (pid, start time) -> CPU seconds
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._own0 = 0.0
        self._sampler_cpu = 0.0
        self.seconds = 0.0

    def __enter__(self) -> TreeCpu:
        self._before = self._sample_once()
        self._own0 = time.process_time()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._sample_once()
        children = sum(v for k, v in self._seen.items() if k not in self._before)
        # Descendants alive before the block (none, normally) count only what they added.
        children += sum(self._seen[k] - v for k, v in self._before.items() if k in self._seen)
        self.seconds = time.process_time() - self._own0 - self._sampler_cpu + children

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self._sample_once()
        self._sampler_cpu = time.thread_time()  # this thread's own cost, not the workload's

    def _sample_once(self) -> dict[tuple[int, int], float]:
        now: dict[tuple[int, int], float] = {}
        stats = _all_stats()
        parents = {pid: ppid for pid, (ppid, _, _) in stats.items()}
        me = os.getpid()
        for pid, (_ppid, start, cpu) in stats.items():
            ancestor, hops = parents.get(pid), 0
            while ancestor not in (None, 0, me) and hops < 64:
                ancestor, hops = parents.get(ancestor), hops + 1
            if ancestor == me:
                now[(pid, start)] = cpu
        self._seen.update(now)
        return now


def _all_stats() -> dict[int, tuple[int, int, float]]:
    """pid -> (parent pid, start time, utime + stime in seconds) of every visible process."""
    out: dict[int, tuple[int, int, float]] = {}
    proc = Path("/proc")
    if not proc.is_dir():
        return out
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            text = (entry / "stat").read_text()
        except OSError:
            continue  # it exited meanwhile
        fields = text[text.rfind(")") + 2 :].split()
        # after the command: state ppid ... utime(12) stime(13) ... starttime(20)
        out[int(entry.name)] = (
            int(fields[1]),
            int(fields[19]),
            (int(fields[11]) + int(fields[12])) / _TICK,
        )
    return out
