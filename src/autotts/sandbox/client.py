"""The parent side of a sandboxed worker: start it, talk to it, kill it.

Every way a candidate can fail — an error report, a missing or malformed result, an
exit (even with code 0) before the work is done, a signal, a stall — becomes a
:class:`~autotts.errors.CandidateRejected` with a reason code; nothing the worker
does can raise anything else in the parent. The worker runs in its own process
group (its own PID namespace under bubblewrap), and :meth:`SandboxWorker.close`
kills that group, so no process it started survives it.
"""

from __future__ import annotations

import collections
import contextlib
import functools
import json
import os
import selectors
import signal
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from typing import IO, Any

from autotts.errors import CandidateRejected
from autotts.sandbox.layers import (
    SandboxLimits,
    held_layers,
    isolation_layers,
    worker_command,
    worker_environment,
)

__all__ = ["SandboxWorker"]

_SIGNAL_REASONS = {
    signal.SIGSYS: ("forbidden", "was killed by the sandbox for a forbidden system call"),
    signal.SIGXCPU: ("timeout", "was killed for exceeding its CPU-time limit"),
    signal.SIGXFSZ: ("forbidden", "was killed for writing past the file-size limit"),
    signal.SIGKILL: ("memory", "was killed by SIGKILL (out of memory or CPU hard limit)"),
}


@functools.lru_cache(maxsize=1)
def _confidence_rows() -> list[list[float]]:
    from autotts.controllers.voting import confidence_table

    rows: list[list[float]] = confidence_table().tolist()
    return rows


class SandboxWorker:
    """One candidate's worker process; use as a context manager.

    ``layers`` lists the isolation layers that are active for it (see
    :mod:`autotts.sandbox.layers`).
    """

    def __init__(self, limits: SandboxLimits | None = None) -> None:
        self.limits = limits or SandboxLimits()
        self.tag = uuid.uuid4().hex
        self.layers = isolation_layers(self.limits)  # refuses where nothing confines reads
        # Closed in close(); the worker's stderr, kept for the rejection detail.
        self._stderr: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115
        self._started = time.monotonic()
        self._buffer = b""  # the start of a line not complete yet
        self._lines: collections.deque[bytes] = collections.deque()  # complete, unread
        self.class_name = "controller"
        self._sent: set[str] = set()
        self._sent_table = False
        #: CPU seconds the worker says it used (for benchmarks only: the worker is untrusted)
        self.reported_cpu_seconds = 0.0
        self._bwrap = "bubblewrap" in self.layers
        self._process = subprocess.Popen(
            worker_command(self.limits, self.tag),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            env=worker_environment(),
            cwd=tempfile.gettempdir(),
            start_new_session=True,
            # No preexec_fn: the worker sets its rlimits itself (worker.apply_limits).
        )
        assert self._process.stdout is not None
        os.set_blocking(self._process.stdout.fileno(), False)
        assert self._process.stdin is not None
        os.set_blocking(self._process.stdin.fileno(), False)
        self._selector = selectors.DefaultSelector()
        self._selector.register(self._process.stdout, selectors.EVENT_READ)

    # -- requests --------------------------------------------------------------
    def load(self, source: str, filename: str, class_name: str | None) -> dict[str, Any]:
        """Compile and import the candidate; returns its kind, class name and signature."""
        if self.limits.interpreter == "pypy" and not self._sent_table:
            # A PyPy worker has no SciPy: it serves beta_confidence from this table.
            self._request({"op": "confidence", "rows": _confidence_rows()})
            self._sent_table = True
        seccomp = "seccomp" in self.layers
        reply = self._request(
            {
                "op": "load",
                "source": source,
                "filename": filename,
                "class": class_name,
                "seccomp": seccomp,
            }
        )
        self.class_name = str(reply.get("class"))
        self.layers = held_layers(self.layers, reply.get("layers"))
        return reply

    def build(self, beta: float | None, params: dict[str, Any] | None = None) -> dict[str, Any]:
        """Instantiate the controller; returns its recorded parameters."""
        reply = self._request({"op": "build", "beta": beta, "params": params or {}})
        params_out = reply.get("params")
        if not isinstance(params_out, dict):
            raise CandidateRejected("cheating", "the worker sent malformed parameters")
        return params_out

    def send_questions(self, key: str, questions: list[dict[str, Any]]) -> None:
        """Send question data under ``key`` (once: the worker keeps it for later runs)."""
        if key in self._sent:
            return
        self._request({"op": "questions", "key": key, "questions": questions})
        self._sent.add(key)

    def has_questions(self, key: str) -> bool:
        return key in self._sent

    @property
    def age_seconds(self) -> float:
        """Wall-clock seconds since the worker started (``total_seconds`` runs from then)."""
        return time.monotonic() - self._started

    @property
    def alive(self) -> bool:
        """Whether the worker process is still running (a rejection kills it)."""
        return self._process.poll() is None

    def run(
        self,
        key: str,
        episodes: list[tuple[int, list[int]]] | list[tuple[int, str]],
        *,
        trace: bool = False,
        max_steps: int | None = None,
        fast: bool = True,
        compact: bool = False,
    ) -> Iterator[dict[str, Any]]:
        """Run episodes ``(question, order)`` of question set ``key``; yields one result each.

        An order is a list of branch indices, or the string
        :func:`~autotts.sandbox.payload.encode_orders` makes of it.

        A result is ``{"a": answer, "l": action log, "t": trace steps (when tracing)}``,
        unverified: the caller replays it. The log is a list of action codes, or with
        ``compact`` the string :func:`~autotts.sandbox.payload.encode_log` makes of it
        (and the worker sends its results in batches).
        ``fast=False`` runs untraced episodes in the general session instead of the lean
        one (same results; for benchmarks).
        """
        request: dict[str, Any] = {"op": "run", "key": key, "episodes": episodes, "trace": trace}
        if max_steps is not None:
            request["max_steps"] = max_steps
        if not fast:
            request["fast"] = False
        if compact:
            request["compact"] = True
        self._write(request)
        index = 0
        while index < len(episodes):
            message = self._read()
            if message.get("ok") is False:
                self._reject(message, index)
            # A compact run's results come in batches (the worker's _Results).
            batch = message.get("b") if compact else None
            for result in batch if isinstance(batch, list) else [message]:
                if index == len(episodes) or not (
                    isinstance(result, dict)
                    and isinstance(result.get("l"), str if compact else list)
                ):
                    raise CandidateRejected("cheating", f"malformed result for episode {index}")
                yield result
                index += 1
        done = self._read()
        if done.get("done") != len(episodes):
            raise CandidateRejected("cheating", "the worker did not confirm the run")
        if isinstance(done.get("cpu"), float):
            self.reported_cpu_seconds = done["cpu"]

    def close(self) -> None:
        """Stop the worker and everything in its process group."""
        if self._process.poll() is None:
            try:
                self._write({"op": "quit"})
                self._process.wait(timeout=1)
            except (CandidateRejected, subprocess.TimeoutExpired):
                pass
        self._kill()
        self._selector.close()
        for stream in (self._process.stdin, self._process.stdout, self._stderr):
            if stream is not None:
                stream.close()

    def __enter__(self) -> SandboxWorker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- plumbing --------------------------------------------------------------
    def _request(self, message: dict[str, Any]) -> dict[str, Any]:
        self._write(message)
        reply = self._read()
        if reply.get("ok") is not True:
            self._reject(reply, None)
        return reply

    def _reject(self, message: dict[str, Any], episode: int | None) -> None:
        reason = message.get("reason")
        detail = str(message.get("detail", ""))[:2000]
        known = {"load", "interface", "crash", "bad-return", "memory", "forbidden", "cheating"}
        if reason not in known:
            reason, detail = "cheating", f"the worker sent an unknown failure: {message!r:.200}"
        self._kill()
        rejection = CandidateRejected(str(reason), detail)
        episode_ = message.get("episode", episode)
        #: which episode of the last ``run`` failed (the caller names it), if any
        rejection.episode = episode_ if isinstance(episode_, int) else None  # type: ignore[attr-defined]
        #: the failing episode's log and trace so far, as the worker claims them (untrusted)
        partial = message.get("partial")
        rejection.partial = partial if isinstance(partial, dict) else None  # type: ignore[attr-defined]
        raise rejection

    def _write(self, message: dict[str, Any]) -> None:
        """Send one request; a worker that stops reading is a stall, bounded like any other."""
        stdin = self._process.stdin
        assert stdin is not None
        data = memoryview(json.dumps(message).encode() + b"\n")
        deadline = time.monotonic() + self.limits.episode_seconds
        with selectors.DefaultSelector() as writable:
            writable.register(stdin.fileno(), selectors.EVENT_WRITE)
            while data:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    self._kill()
                    raise CandidateRejected(
                        "timeout",
                        f"the controller process stopped reading its input for "
                        f"{self.limits.episode_seconds:g} s; it was killed",
                    )
                if not writable.select(timeout=remaining):
                    continue
                try:
                    sent = os.write(stdin.fileno(), data[: 1 << 16])
                except BlockingIOError:
                    continue
                except OSError:  # the worker closed its input or exited
                    self._fail_exited()
                data = data[sent:]

    def _read(self) -> dict[str, Any]:
        limits = self.limits
        deadline = min(
            time.monotonic() + limits.episode_seconds, self._started + limits.total_seconds
        )
        while not self._lines:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self._kill()
                raise CandidateRejected(
                    "timeout",
                    f"no result within {limits.episode_seconds:g} s per episode "
                    f"(or {limits.total_seconds:g} s in all); the worker was killed",
                )
            if not self._selector.select(timeout=remaining):
                continue
            assert self._process.stdout is not None
            chunk = os.read(self._process.stdout.fileno(), 1 << 20)
            if not chunk:
                self._fail_exited()
            # Split every complete line at once: a worker that runs ahead fills the pipe
            # with many short results, and cutting them off one at a time would copy the
            # rest of the buffer for each.
            *complete, self._buffer = (self._buffer + chunk).split(b"\n")
            self._lines.extend(complete)
            if len(self._buffer) > limits.max_message_bytes:
                self._kill()
                raise CandidateRejected(
                    "cheating", f"a worker message exceeded {limits.max_message_bytes} bytes"
                )
        line = self._lines.popleft()
        try:
            message = json.loads(line)
        except ValueError:
            self._kill()
            raise CandidateRejected("cheating", "the worker sent malformed data") from None
        if not isinstance(message, dict):
            self._kill()
            raise CandidateRejected("cheating", "the worker sent malformed data")
        return message

    def _fail_exited(self) -> None:
        """The worker closed its output: classify how it ended, always as a rejection."""
        try:
            code = self._process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self._kill()
            code = self._process.wait()
        self._kill()
        tail = self._stderr_tail()
        sig = -code if code < 0 else (code - 128 if self._bwrap and code > 128 else 0)
        if "MemoryError" in tail:
            reason, what = "memory", "ran out of memory"
        elif sig in _SIGNAL_REASONS:
            reason, what = _SIGNAL_REASONS[signal.Signals(sig)]
        elif sig:
            reason, what = "crash", f"was killed by signal {signal.Signals(sig).name}"
        else:
            reason, what = "crash", f"exited with code {code} before returning its results"
        raise CandidateRejected(reason, f"the controller process {what}{tail and ': ' + tail}")

    def _stderr_tail(self) -> str:
        self._stderr.seek(0, os.SEEK_END)
        size = self._stderr.tell()
        self._stderr.seek(max(0, size - 600))
        lines = self._stderr.read().decode(errors="replace").strip().splitlines()
        return lines[-1][:300] if lines else ""

    def _kill(self) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self._process.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self._process.wait(timeout=5)
