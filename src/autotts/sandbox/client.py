"""The parent side of a sandboxed worker: start it, talk to it, kill it.

Every way a candidate can fail — an error report, a missing or malformed result, an
exit (even with code 0) before the work is done, a signal, a stall — becomes a
:class:`~autotts.errors.CandidateRejected` with a reason code; nothing the worker
does can raise anything else in the parent. Every line the worker sends is read as
hostile (:mod:`autotts.sandbox.protocol`: why, and what is checked): parsed with
bounded size and depth, checked against the one shape its request allows, and a
failure it reports is worded by the parent, from a fixed table, with the candidate's
own text only quoted. The worker runs in its own process
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
from collections.abc import Callable, Iterator
from typing import IO, Any, NoReturn

from autotts.controllers.voting import confidence_table
from autotts.errors import CandidateRejected, PartialEpisode
from autotts.sandbox.layers import (
    SandboxLimits,
    held_layers,
    isolation_layers,
    worker_command,
    worker_environment,
)
from autotts.sandbox.protocol import (
    FAILURES,
    MAX_INT,
    ProtocolError,
    check_log,
    check_params,
    check_trace,
    is_dotted_name,
    is_identifier,
    is_int,
    parse_line,
    quote,
)
from autotts.sandbox.replies import (
    EPISODE_FAILURES,
    FAILURE_KEYS,
    MESSAGE_LABEL,
    REQUEST_FAILURES,
    TEXT_LABEL,
    exactly,
    load_reply,
    no_trace,
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
        self._filename = "the controller file"  # named in messages (the parent's own string)
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
        if not self._sent_table:
            # A PyPy worker has no SciPy: it serves beta_confidence from this table. A
            # CPython worker gets it too: importing SciPy for it was about 0.15 of the
            # 0.4 CPU-s a fresh worker took up to its first results (benchmarks/audit_cost.py).
            self._request({"op": "confidence", "rows": _confidence_rows()})
            self._sent_table = True
        seccomp = "seccomp" in self.layers
        self._filename = filename
        if class_name is not None:
            self.class_name = class_name
        reply = self._request(
            {
                "op": "load",
                "source": source,
                "filename": filename,
                "class": class_name,
                "seccomp": seccomp,
            },
            load_reply,
        )
        self.class_name = reply["class"]
        self.layers = held_layers(self.layers, reply["layers"])
        return reply

    def build(self, beta: float | None, params: dict[str, Any] | None = None) -> dict[str, Any]:
        """Instantiate the controller; returns its recorded parameters (checked here as
        in the worker: :func:`~autotts.sandbox.protocol.check_params`)."""
        reply = self._request(
            {"op": "build", "beta": beta, "params": params or {}}, exactly("ok", "params")
        )
        problem = check_params(reply["params"])
        if problem is not None:
            self._kill()
            sentence = FAILURES["params"][1].format(cls=self.class_name)
            raise CandidateRejected("interface", f"{sentence}; {problem}")
        params_out: dict[str, Any] = reply["params"]
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
        answer_chars = self.limits.max_answer_chars
        total, index = len(episodes), 0
        while index < total:
            message = self._read()
            if "ok" in message:  # only a failure report has it in a run
                self._reject(message, index, trace, "run")
            # A compact run's results come in batches (the worker's _Results).
            results = message.get("b") if compact else [message]
            if (
                (compact and len(message) != 1)
                or type(results) is not list
                or len(results) > total - index
            ):
                self._cheated(f"the worker sent a malformed message for episode {index}")
            for result in results:
                self._check_result(result, index, compact, trace, answer_chars)
                yield result
                index += 1
        done = self._read()
        cpu = done.get("cpu")
        if (
            len(done) != 2
            or done.get("done") != total
            or type(cpu) is not float
            or not self.reported_cpu_seconds <= cpu < 1e9  # process time never goes back
        ):
            self._cheated("the worker did not confirm the run")
        self.reported_cpu_seconds = cpu

    def _check_result(
        self,
        result: Any,
        index: int,
        compact: bool,
        trace: bool,
        answer_chars: int,
    ) -> None:
        """One episode's result has exactly the run's shape (per result of every cell:
        the common case is a few type checks)."""
        if not (
            type(result) is dict
            and len(result) == 3 + trace
            and "a" in result
            and type(result.get("l")) is (str if compact else list)
        ):
            self._cheated(f"the worker sent a malformed result for episode {index}")
        claimed = result.get("c")
        if not (
            (type(claimed) is int or type(claimed) is float) and 0 <= claimed <= MAX_INT
        ):  # NaN fails the comparison; infinity the bound
            self._cheated(f"the worker sent a malformed token count for episode {index}")
        answer = result["a"]
        if answer is not None:
            if type(answer) is not str:  # the worker checks the type itself
                self._cheated(f"the worker sent a malformed answer for episode {index}")
            if len(answer) > answer_chars:
                self._kill()
                raise CandidateRejected(
                    "bad-return",
                    f"answer of {len(answer)} characters (at most {answer_chars})",
                    index,
                )
        if not compact or trace:
            try:
                if not compact:
                    check_log(result["l"])
                if trace:
                    check_trace(result.get("t"))
            except ProtocolError as exc:
                self._cheated(f"episode {index}: {exc}")

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
    def _request(
        self,
        message: dict[str, Any],
        shape: Callable[[dict[str, Any]], bool] | None = None,
    ) -> dict[str, Any]:
        """Send ``message`` and read its reply: a failure report, or what ``shape`` accepts
        (without one, exactly ``{"ok": true}``)."""
        self._write(message)
        reply = self._read()
        if reply.get("ok") is False:
            self._reject(reply, None, False, str(message.get("op")))
        if reply.get("ok") is not True or not (shape or exactly("ok"))(reply):
            self._cheated(f"the worker sent a malformed reply to {message.get('op')!r}")
        return reply

    def _cheated(self, detail: str) -> NoReturn:
        self._kill()
        raise CandidateRejected("cheating", detail)

    def _reject(self, message: dict[str, Any], index: int | None, trace: bool, op: str) -> NoReturn:
        """Raise the rejection for the worker's failure report ``message``, worded here.

        ``op`` is the request it answers, ``index`` the next episode of the run in progress
        (None outside a run): a failure in an episode must name exactly it. ``what`` must
        be a failure that request can end in, the reason one that ``what`` allows
        (:data:`~autotts.sandbox.protocol.FAILURES`), the other fields of their types;
        anything else is a malformed report (``cheating``).
        """
        self._kill()
        what, reason = message.get("what"), message.get("reason")
        what = what if isinstance(what, str) else ""
        entry = FAILURES.get(what)
        episode, line, kind = message.get("episode"), message.get("line"), message.get("type")
        text, partial, cls = message.get("text"), message.get("partial"), message.get("class")
        in_episode = what in EPISODE_FAILURES
        if (
            entry is None
            or what not in REQUEST_FAILURES.get(op, {"internal"})
            or reason not in entry[0]
            or not message.keys() <= FAILURE_KEYS
            or not ((type(episode) is int and episode == index) if in_episode else episode is None)
            or not (line is None or is_int(line, 1, 10**7))
            or not (kind is None or is_dotted_name(kind))
            or not (cls is None or (op == "load" and is_identifier(cls)))
            or not (text is None or (type(text) is str and len(text) <= 10_000))
            or (partial is not None and not in_episode)
        ):
            raise CandidateRejected("cheating", "the worker sent a malformed failure report")
        checked: PartialEpisode | None = None
        if partial is not None:
            try:
                if type(partial) is not dict or partial.keys() != {"l", "t"}:
                    raise ProtocolError("a partial episode has the wrong fields")
                steps = partial["t"]
                checked = PartialEpisode(
                    check_log(partial["l"]),
                    check_trace(steps) if trace else no_trace(steps),
                )
            except ProtocolError:
                raise CandidateRejected(
                    "cheating", "the worker sent a malformed failure report"
                ) from None
        where = f" at {self._filename}:{line}" if line is not None else ""
        detail = entry[1].format(
            cls=cls or self.class_name, type=kind or "an exception", where=where
        )
        if text:
            detail += f"; {TEXT_LABEL.get(what, MESSAGE_LABEL)}: {quote(text)}"
        raise CandidateRejected(str(reason), detail, episode, checked)

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
        try:
            return parse_line(self._lines.popleft())
        except ProtocolError as exc:
            self._cheated(str(exc))

    def _fail_exited(self) -> NoReturn:
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
        # The tail is the candidate's own output (it can print anything): quoted only.
        said = f"; its last line of error output: {quote(tail)}" if tail else ""
        raise CandidateRejected(reason, f"the controller process {what}{said}")

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
