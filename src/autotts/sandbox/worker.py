"""The sandboxed worker: runs one candidate controller, episode by episode.

Started by :class:`~autotts.sandbox.client.SandboxWorker` as
``python -m autotts.sandbox.worker`` (inside bubblewrap where available), or under
PyPy through :mod:`autotts.sandbox.pypy_boot`, for untraced episodes only. It talks
JSON lines over its stdin/stdout; the candidate's own prints go to stderr. It
holds no gold answers and scores nothing: per episode it returns the answer, the
log of session primitives the controller called and (when asked) its trace steps.
The parent charges tokens by replaying the log through its own episode, so
nothing this process says about costs or correctness is believed.

Requests: ``load`` (source text, class name), ``build`` (β and parameters),
``questions`` (gold-free question data), ``confidence`` (the Beta confidence table,
for a worker without SciPy), ``run`` (episodes), ``session`` (one episode over a session
the parent holds, :mod:`autotts.sandbox.live_session`), ``quit``.
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
import resource
import sys
import time
from typing import Any, BinaryIO

from autotts.env.fast_session import FULL_READ, PROBE_NEW, FastSession  # the log's action codes
from autotts.env.limits import DEFAULT_MAX_STEPS
from autotts.env.session import Session
from autotts.sandbox import privileges
from autotts.sandbox.live_session import solve_forwarded
from autotts.sandbox.plain import decode_order, encode_log
from autotts.sandbox.protocol import MAX_INT, MAX_TRACE_DEPTH, MAX_TRACE_STEPS, MAX_TRACE_STRING
from autotts.sandbox.worker_candidate import Candidate, Failure, classify

# Started through :mod:`autotts.sandbox.pypy_boot` (PyPy and CPython alike), this module
# runs on the standard library and the pure-Python parts of autotts: NumPy and what needs
# it are imported only where the general (traced) path needs them, which only the CPython
# worker is asked to run, or where the candidate imports them. (NumPy imports under the
# seccomp filter: its BLAS starts no thread, OPENBLAS_NUM_THREADS=1 in worker_environment.)
_NUMPY = importlib.util.find_spec("numpy") is not None

__all__ = ["main"]

#: Episode results are flushed at least this often (seconds), not one by one: the
#: parent then wakes once per batch, not once per episode (thousands of wake-ups and
#: write calls per cell otherwise). A stalled episode still stalls the stream, so the
#: parent's per-episode timeout still applies, less at most this much.
FLUSH_SECONDS = 0.05

#: A compact run's results travel as batches, one JSON line ``{"b": [result, ...]}`` per
#: flush, not a line each: a line costs the parent a ``json.loads`` call and a read of
#: its own, which for 3,000 short results were about a fifth of its share of a cell. A
#: batch is cut at this many characters of logs and answers, far below the parent's
#: message limit (``SandboxLimits.max_message_bytes``).
BATCH_CHARS = 1 << 20


def _send(out: BinaryIO, message: dict[str, Any], *, flush: bool = True) -> None:
    """One protocol line. Only what the worker built goes here: its replies, results (an
    answer checked to be a valid str, a log, a count) and traces made plain by
    :func:`_plain_trace`; the parent checks every line anyway
    (:mod:`autotts.sandbox.protocol`)."""
    out.write(json.dumps(message, ensure_ascii=False).encode() + b"\n")
    if flush:
        out.flush()


def _plain_trace(trace: list[Any]) -> list[Any]:
    """A trace as the parent accepts it (:func:`~autotts.sandbox.protocol.check_trace`):
    the candidate's own steps may hold any object (written as its ``repr``), NaN, huge
    numbers, deep nesting or long strings, which become strings, cut to the limits."""
    return [
        {
            key: _plain_text(step.get(key))
            if key in _TEXT_FIELDS
            else _plain_value(step.get(key), MAX_TRACE_DEPTH)
            for key in _STEP_FIELDS
        }
        for step in trace[:MAX_TRACE_STEPS]
        if type(step) is dict
    ]


_STEP_FIELDS = ("event", "goal", "input", "output", "state", "decision")
_TEXT_FIELDS = frozenset({"event", "goal", "decision"})


def _plain_text(value: Any) -> str:
    """A step's ``event``, ``goal`` or ``decision``: always a string."""
    plain = _plain_value(value, 0)
    return "" if plain is None else plain if type(plain) is str else json.dumps(plain)


def _plain_value(value: Any, depth: int) -> Any:
    kind = type(value)
    if value is None or kind is bool or (kind is int and -MAX_INT <= value <= MAX_INT):
        return value
    if kind is float and math.isfinite(value):
        return value
    if isinstance(value, str):
        text = str.__str__(value)  # a str subclass's own __str__ or __repr__ is not called
    elif depth > 0 and (kind is list or kind is tuple):
        return [_plain_value(v, depth - 1) for v in value[:MAX_TRACE_STEPS]]
    elif depth > 0 and kind is dict:
        return {str(_plain_value(k, 0))[:200]: _plain_value(v, depth - 1) for k, v in value.items()}
    else:
        try:
            text = repr(value)
        except BaseException:  # a candidate's __repr__ may raise anything
            text = f"<{kind.__name__}>"
    return text[:MAX_TRACE_STRING].encode("utf-8", "replace").decode("utf-8")


def _run(
    candidate: Candidate,
    questions: list[Any],
    episodes: list[list[Any]],
    tracing: bool,
    out: BinaryIO,
    max_steps: int,
    fast: bool = True,
    compact: bool = False,
) -> None:
    # Untraced episodes run in the lean session, which keeps the action log itself.
    lean = fast and not tracing
    if not lean and not _NUMPY:
        raise Failure("crash", "internal", text="this worker runs untraced episodes only")
    new_session: Any = None
    # The classes a controller could patch to tamper with the evaluation (the parent
    # replays and scores everything itself; a patch is still a cheat, so it is rejected).
    guarded_classes: list[type[Any]] = [Session, FastSession, *{type(q) for q in questions}]
    if _NUMPY:  # without NumPy (PyPy) these cannot even be imported
        from autotts.data.records import ReplayQuestion, ReplaySet
        from autotts.env.episode import Episode
        from autotts.env.limits import StepLimitedSession

        guarded_classes += [Episode, StepLimitedSession, ReplaySet, ReplayQuestion]
    if lean:

        def new_session(q: int, order: list[int], trace: list[Any] | None) -> Any:
            return FastSession(questions[q], order, max_steps=max_steps)

    else:
        new_session, general = _general_sessions(questions, tracing, max_steps)
        guarded_classes += general
    guarded = _snapshot(guarded_classes)
    with _Results(out, compact) as results:
        for index, (q, order) in enumerate(episodes):
            if type(order) is str:  # a compact request's order (plain.decode_order)
                order = decode_order(order)
            trace: list[Any] | None = [] if tracing else None
            session = new_session(q, order, trace)
            try:
                answer = candidate.controller.solve(session)
            except BaseException as exc:
                failure = classify(exc, "solve-raised", index)
                # What the episode did before it failed: the evaluator replays it for the trace.
                log = session.log
                if type(log) is list and all(type(a) is int for a in log):
                    failure.partial = {
                        "l": log,
                        "t": None if trace is None else _plain_trace(trace),
                    }
                raise failure from None
            if answer is not None and type(answer) is not str:
                name = type(answer).__name__
                raise Failure(
                    "bad-return",
                    "bad-return",
                    episode=index,
                    type=name if name.isidentifier() else None,
                )
            if answer is not None and not answer.isascii():
                try:  # a lone surrogate is no text: no file, and no protocol line, holds it
                    answer.encode("utf-8")
                except UnicodeEncodeError:
                    raise Failure("bad-return", "bad-answer", episode=index) from None
            if _snapshot(guarded_classes) != guarded:
                raise Failure("cheating", "patched", episode=index)
            # The worker's own token count, compared by the parent with its replay: a mismatch
            # means the candidate tampered with the accounting.
            try:
                claimed = session.tokens_used
                log = encode_log(session.log) if compact else session.log
            except Exception:  # the candidate wrote into its log what no action is
                raise Failure("cheating", "log", episode=index) from None
            message: dict[str, Any] = {"a": answer, "l": log, "c": claimed}
            if trace is not None:
                message["t"] = _plain_trace(trace)
            results.add(message, len(answer or ""))
    # CPU seconds this process has used so far (for overhead measurements, not trusted).
    _send(out, {"done": len(episodes), "cpu": time.process_time()})


class _Results:
    """A run's stream of episode results: a line each, or (``batched``) in batches.

    Flushed at least every :data:`FLUSH_SECONDS`; on leaving the ``with`` block, also by
    an exception, the results not sent yet are written, so those before a failure
    reach the parent before the failure's own message.
    """

    def __init__(self, out: BinaryIO, batched: bool) -> None:
        self.out, self.batched = out, batched
        self.batch: list[dict[str, Any]] = []
        self.chars = 0  # of the batch's logs and answers
        self.flushed = time.monotonic()

    def add(self, message: dict[str, Any], answer_chars: int) -> None:
        if self.batched:
            self.batch.append(message)
            self.chars += len(message["l"]) + answer_chars
        else:
            _send(self.out, message, flush=False)
        now = time.monotonic()
        due = now - self.flushed >= FLUSH_SECONDS
        if self.chars >= BATCH_CHARS or (due and self.batch):
            self._send_batch()
        if due:
            self.out.flush()
            self.flushed = now

    def _send_batch(self) -> None:
        _send(self.out, {"b": self.batch}, flush=False)
        self.batch, self.chars = [], 0

    def __enter__(self) -> _Results:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.batch:
            self._send_batch()


def _general_sessions(
    questions: list[Any], tracing: bool, max_steps: int
) -> tuple[Any, list[type[Any]]]:
    """A maker of general sessions (traced, or every read through an :class:`Episode`)
    and the classes they run on, for the evaluator-class guard."""
    # The traced path only, which a PyPy worker never takes: its modules need not load there.
    from autotts.env.episode import Episode
    from autotts.env.limits import StepLimitedSession
    from autotts.env.tracing import TracingSession

    # The same sessions as the in-process runner: a per-episode step limit always, and
    # every read recorded by the environment when traces are asked for.
    base: type[StepLimitedSession] = TracingSession if tracing else StepLimitedSession

    class RecordingSession(base):  # type: ignore[valid-type,misc]
        """A session that logs every primitive that succeeded."""

        __slots__ = ("log",)

        def __init__(self, episode: Episode, trace: list[Any] | None) -> None:
            super().__init__(episode, trace, max_steps=max_steps)
            self.log: list[int] = []

        def probe_new(self) -> Any:
            probe = super().probe_new()
            self.log.append(PROBE_NEW)
            return probe

        def probe_more(self, branch: int) -> tuple[str, bool]:
            result: tuple[str, bool] = super().probe_more(branch)
            self.log.append(int(branch))
            return result

        def full_read(self) -> str:
            answer: str = super().full_read()
            self.log.append(FULL_READ)
            return answer

        get_new_branch_final_answer = full_read

    def new_session(q: int, order: list[int], trace: list[Any] | None) -> RecordingSession:
        return RecordingSession(Episode(questions[q], order), trace)

    return new_session, [base, RecordingSession]


def _snapshot(classes: list[type[Any]]) -> list[tuple[tuple[str, ...], tuple[int, ...]]]:
    """Names and identities of every attribute of ``classes`` (a changed method shows as a
    new id, an added or deleted one as a new name). Taken after every episode, so it is
    built by C-level calls only."""
    out = []
    for cls in classes:
        attributes = vars(cls)
        out.append((tuple(attributes), tuple(map(id, attributes.values()))))
    return out


def _serve(requests: BinaryIO, out: BinaryIO) -> None:
    # Imported here, not at the top: payload imports NumPy, which only a CPython worker has
    # (and imports under the seccomp filter, see _NUMPY).
    if _NUMPY:  # NumPy is there: the payload's decoder (as said above)
        from autotts.sandbox.payload import decode_question
    else:  # (as above)
        from autotts.sandbox.plain import PlainQuestion as decode_question  # type: ignore[assignment]

    candidate: Candidate | None = None
    questions: dict[str, list[Any]] = {}
    filtered = "seccomp" in _INSTALLED  # once installed, stays for the process's life
    for raw in requests:
        request = json.loads(raw)
        op = request["op"]
        if op == "quit":
            return
        try:
            if op == "load":
                # A second ``load`` (a kept worker, next cell) runs the file again in a fresh
                # module, so no module-level state of the candidate crosses cells.
                layers = list(_INSTALLED)
                if request.get("seccomp") and not filtered:
                    # a layer's module loads only when that layer is asked for
                    from autotts.sandbox.seccomp_filter import install_filter

                    try:
                        install_filter()
                        layers.append("seccomp")
                        filtered = True
                    except (ImportError, OSError, RuntimeError) as exc:
                        print(f"autotts worker: seccomp unavailable: {exc}", file=sys.stderr)
                candidate = Candidate(request["source"], request["filename"], request["class"])
                _send(
                    out,
                    {
                        "ok": True,
                        "kind": candidate.kind,
                        "class": candidate.class_name,
                        "signature": candidate.signature,
                        "layers": layers,
                    },
                )
            elif op == "build":
                assert candidate is not None, "build before load"
                params = candidate.build(request.get("beta"), request.get("params") or {})
                _send(out, {"ok": True, "params": params})
            elif op == "confidence":
                # The Beta confidence table, computed by the parent's SciPy (a worker
                # without SciPy serves beta_confidence from it, bit for bit the same).
                from autotts.controllers.voting import use_table_rows

                use_table_rows(request["rows"])
                _send(out, {"ok": True})
            elif op == "questions":
                questions[request["key"]] = [decode_question(q) for q in request["questions"]]
                _send(out, {"ok": True})
            elif op == "run":
                assert candidate is not None and candidate.controller is not None
                _run(
                    candidate,
                    questions[request["key"]],
                    request["episodes"],
                    bool(request.get("trace")),
                    out,
                    int(request.get("max_steps") or DEFAULT_MAX_STEPS),
                    request.get("fast") is not False,
                    request.get("compact") is True,
                )
            elif op == "session":  # one episode over a session the parent holds (live_session)
                assert candidate is not None and candidate.controller is not None
                _send(out, solve_forwarded(candidate.controller, request, requests, out))
            else:
                raise Failure("crash", "internal", text=f"unknown request {op!r}")
        except Failure as failure:
            # Data, not prose: the parent words the message (autotts.sandbox.protocol).
            _send(out, failure.report())
            return


def apply_limits(cpu_seconds: int, memory_mb: int) -> None:
    """This process's rlimits: CPU seconds (SIGXCPU at the soft limit, SIGKILL 2 s later),
    address space, no core dumps, 4 MB per written file.

    Set by the worker on itself, first thing, rather than by the parent between fork
    and exec: a ``preexec_fn`` makes ``subprocess`` run Python's fork handlers in the
    parent, and a Ctrl-C that arrives during the fork is then raised inside one of
    them (``logging``'s lock release) and lost. No candidate code has run yet here; the
    candidate cannot raise a hard limit afterwards.
    """
    mb = 1024 * 1024
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 2))
    resource.setrlimit(resource.RLIMIT_AS, (memory_mb * mb,) * 2)
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_FSIZE, (4 * mb, 4 * mb))


def isolate(layers: list[str], readable: list[str]) -> list[str]:
    """Install the worker-side isolation layers named in ``layers`` on this process, in
    the order each needs: ``no_new_privs``; the namespaces fallback (which needs root's
    capabilities); dropping root (with ``"setuid"``) and every capability; Landlock
    (:mod:`autotts.sandbox.landlock`, reads below ``readable`` only); the seccomp
    allowlist last (it forbids the calls the others make). Returns what holds, checked
    where it can be: no capabilities left, for ``"unprivileged"``.

    Fails closed: raises ``OSError`` (the worker then exits before it serves) if one
    of ``layers`` cannot be installed.
    """
    unknown = set(layers) - {
        "namespaces",
        "no-new-privs",
        "unprivileged",
        "setuid",
        "landlock",
        "seccomp",
    }
    if unknown:
        raise OSError(f"unknown isolation layer(s) {', '.join(sorted(unknown))}")
    if "seccomp" in layers:
        try:
            # First: importing it looks libseccomp up with a helper process and /tmp files
            # (ctypes.util.find_library), which the layers below forbid.
            import pyseccomp  # noqa: F401
        except (ImportError, OSError) as exc:  # the package, or libseccomp, is missing
            raise OSError(f"seccomp is unavailable: {exc}") from None
    held: list[str] = []
    privileges.set_no_new_privs()
    held.append("no-new-privs")
    if "namespaces" in layers:  # while root still has the capabilities it needs
        from autotts.sandbox.namespaces import confine

        confine(readable)
        held.append("namespaces")
    if "unprivileged" in layers:
        if "setuid" in layers:  # the parent found nobody can read what the worker needs
            privileges.drop_root()
        privileges.drop_capabilities()
        if privileges.effective_capabilities() != 0:
            raise OSError("the worker still has capabilities after dropping them")
        held.append("unprivileged")
    if "landlock" in layers:
        # a layer's module loads only when that layer is asked for
        from autotts.sandbox.landlock import restrict

        restrict(readable)
        held.append("landlock")
    if "seccomp" in layers:
        # a layer's module loads only when that layer is asked for
        from autotts.sandbox.seccomp_filter import install_filter

        install_filter()
        held.append("seccomp")
    return held


#: The layers :func:`isolate` installed in this process (reported in ``load`` replies).
_INSTALLED: list[str] = []


def main(argv: list[str] | None = None) -> int:
    """Serve requests until ``quit`` or end of input.

    The command line carries ``--tag ID``, which names the worker in process listings,
    ``--limits CPU_SECONDS,MEMORY_MB``, applied before anything else
    (:func:`apply_limits`); a worker started without limits refuses to serve. Then
    ``--isolate LAYER,...`` and ``--read PATH`` (repeated): the layers :func:`isolate`
    installs before the first request is read, hence before any candidate code runs.
    """
    args = sys.argv[1:] if argv is None else argv
    try:
        cpu_seconds, memory_mb = (int(v) for v in args[args.index("--limits") + 1].split(","))
    except (ValueError, IndexError):
        print("autotts worker: --limits CPU_SECONDS,MEMORY_MB is required", file=sys.stderr)
        return 2
    apply_limits(cpu_seconds, memory_mb)
    # The protocol uses private copies of stdin/stdout; the candidate's prints go to stderr
    # and its reads of stdin see nothing.
    requests = os.fdopen(os.dup(0), "rb")
    out = os.fdopen(os.dup(1), "wb", buffering=1 << 16)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.dup2(2, 1)
    layers = args[args.index("--isolate") + 1].split(",") if "--isolate" in args else []
    readable = [args[i + 1] for i, arg in enumerate(args) if arg == "--read"]
    try:
        _INSTALLED[:] = isolate([n for n in layers if n], readable)
    except OSError as exc:
        print(f"autotts worker: cannot isolate itself, refusing to serve: {exc}", file=sys.stderr)
        return 3
    try:
        _serve(requests, out)
    except BrokenPipeError:
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
