"""The worker's protocol, as the parent reads it: every byte from the worker is hostile.

The candidate controller runs inside the worker process, so it can do anything that
process can: find the protocol's output file object (through ``gc`` or
``/proc/self/fd``) and write any line on it, in the middle of or instead of the
worker's own messages. Two ways of keeping it out of the protocol do not work here:

* **A channel it has no handle to** would need the protocol to live in another
  process than the candidate's code; the worker *is* the process the candidate runs in,
  and every descriptor the worker can write, the candidate can.
* **Authenticated frames** (a MAC under a key the parent gives the worker) need a key
  the candidate cannot read; the key would sit in the memory the candidate shares with
  the worker, which it reads as easily as its own (``gc``, frames,
  ``/proc/self/mem``), so it could sign whatever it liked.

Nor is either needed, because a forged frame gains nothing:

* every result is a *claim*: the parent replays each action log through its own
  episode, charges the tokens, checks the worker's token count against its own and
  scores the answer against gold only it holds (:mod:`autotts.sandbox.replay`); a
  forged result is either what an honest run could have produced, and then it is
  scored as such, or it is rejected;
* a forged failure only rejects the candidate that forged it; the parent picks the
  reason code from a fixed table (:data:`FAILURES`) and writes the message itself,
  quoting the candidate's own text (an exception's message, its stderr) only after
  :func:`quote` made it one short line of printable characters in quotes, so no
  candidate can make the user read something that looks like the tool's verdict.

What remains is that reading the worker must never fail in any way but a
:class:`~autotts.errors.CandidateRejected`: every line is parsed with bounded size
(the reader's ``max_message_bytes``) and nesting (the parser's recursion limit, and
any error of the parser, becomes a rejection), and every message is checked against
the one shape its request allows before anything else reads it. Nothing a worker
sends reaches a file unchecked: answers and trace strings hold no lone surrogate
(which no UTF-8 file can hold), numbers are finite and bounded, trace values are
shallow.

Standard library only: the worker (also under PyPy) imports :func:`check_params`.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

__all__ = [
    "FAILURES",
    "MAX_PARAMS",
    "ProtocolError",
    "check_params",
    "quote",
]

#: At most this many entries in what ``params()`` returns (it is written into every result).
MAX_PARAMS = 32
#: Longest name of a parameter, and longest string value.
MAX_PARAM_NAME = 64
MAX_PARAM_STRING = 200
#: Largest magnitude of an integer anywhere in a worker's message (JSON's safe integers).
MAX_INT = 2**53
#: Trace steps: at most this deep below a step's ``input``/``output``/``state``, and this
#: many characters in any of its strings.
MAX_TRACE_DEPTH = 6
MAX_TRACE_STRING = 10_000
#: Most steps of one episode's trace (the worker keeps the first ones).
MAX_TRACE_STEPS = 100_000
#: Characters of a candidate's own text (an exception's message) shown to the user.
MAX_QUOTED = 300


class ProtocolError(Exception):
    """A worker message that does not have the shape its request allows (the caller
    turns it into a ``cheating`` rejection)."""


#: Every failure a worker may report: ``what`` code -> (reasons it may come with, the
#: parent's own sentence). The sentence is formatted with ``{cls}`` (the class name the
#: parent validated), ``{type}`` (an exception's type name, an identifier), ``{where}``
#: (" at FILE:LINE" when the worker named a line). The candidate's text, if any, follows
#: only through :func:`quote`.
FAILURES: dict[str, tuple[frozenset[str], str]] = {
    "syntax": (frozenset({"load"}), "the file does not compile{where}"),
    "load-raised": (
        frozenset({"load", "memory", "forbidden"}),
        "loading the file raised {type}{where}",
    ),
    "no-class": (
        frozenset({"load"}),
        "name the class as FILE.py:Class (the file does not define exactly one controller class)",
    ),
    "unknown-class": (frozenset({"load"}), "unknown class in the file: {cls}"),
    "abstract": (frozenset({"interface"}), "{cls} does not implement solve(session)"),
    "not-a-controller": (
        frozenset({"interface"}),
        "{cls} is neither an autotts.Controller subclass nor an upstream-format class "
        "(__init__(self, config=None) and solve(question))",
    ),
    "signature": (frozenset({"interface"}), "cannot read {cls}.__init__'s signature"),
    "init-raised": (
        frozenset({"interface", "memory", "forbidden"}),
        "{cls}(...) raised {type}{where}",
    ),
    "params-raised": (
        frozenset({"crash", "memory", "forbidden"}),
        "{cls}.params() raised {type}{where}",
    ),
    "params": (
        frozenset({"interface"}),
        f"{{cls}}.params() must return a dict of at most {MAX_PARAMS} entries named by "
        f"identifiers of at most {MAX_PARAM_NAME} characters, each a finite number, a bool, "
        f"None or a printable string of at most {MAX_PARAM_STRING} characters",
    ),
    "solve-raised": (frozenset({"crash", "memory", "forbidden"}), "{type}{where}"),
    "bad-return": (frozenset({"bad-return"}), "returned {type}; solve() must return a str or None"),
    "bad-answer": (
        frozenset({"bad-return"}),
        "returned a string that is not valid Unicode text (a lone surrogate)",
    ),
    "patched": (frozenset({"cheating"}), "the controller modified the evaluator's classes"),
    "log": (frozenset({"cheating"}), "the controller tampered with its action log"),
    "internal": (frozenset({"crash"}), "the worker could not serve the evaluator's request"),
}

# -- the candidate's text, shown to the user ----------------------------------------

#: ANSI escape sequences (CSI and OSC), removed whole so no "[31m" is left either.
_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?")


def quote(text: object, limit: int = MAX_QUOTED) -> str:
    """``text`` (the candidate's, untrusted) as one short quoted line of printable
    characters: ANSI sequences, control, format (bidi overrides, zero-width) and
    separator characters and lone surrogates removed, whitespace runs made one space,
    cut to ``limit`` characters, then :func:`repr`-quoted (so the quote it ends with is
    the tool's own, whatever the text holds)."""
    clean = _ANSI.sub("", text if isinstance(text, str) else str(text))
    if not clean.isprintable():
        # isprintable is false exactly for the Unicode categories Cc, Cf, Cs, Co, Cn, Zl,
        # Zp and Zs other than the plain space; whitespace becomes a space, the rest goes.
        clean = "".join(c if c.isprintable() else " " if c.isspace() else "" for c in clean)
    clean = " ".join(clean.split())
    if len(clean) > limit:
        clean = clean[: limit - 1] + "…"
    return repr(clean)


# -- params() ----------------------------------------------------------------------


def check_params(params: object) -> str | None:
    """Why ``params`` is not a valid ``params()`` result (None if it is); the answer is
    the checker's own words, naming a key only once it is known to be an identifier."""
    if type(params) is not dict:
        return f"it returned {type(params).__name__!s:.60}, not a dict"
    if len(params) > MAX_PARAMS:
        return f"it returned {len(params)} entries"
    for key, value in params.items():
        if type(key) is not str or not key.isidentifier() or len(key) > MAX_PARAM_NAME:
            return "a key is not a short identifier"
        if not _plain_value(value):
            return f"the value of {key!r} is not a finite number, a bool, None or a short string"
    return None


def _plain_value(value: Any) -> bool:
    kind = type(value)
    if value is None or kind is bool:
        return True
    if kind is int:
        return bool(-MAX_INT <= value <= MAX_INT)
    if kind is float:
        return math.isfinite(value)
    if kind is str:
        return len(value) <= MAX_PARAM_STRING and bool(value.isprintable())
    return False


# -- reading a line ------------------------------------------------------------------


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


#: The parser of every worker line: standard JSON (no NaN or Infinity), the C scanner.
_DECODER = json.JSONDecoder(parse_constant=_no_constant)
#: A JSON escape of a surrogate code point (or a text that merely looks like one, which
#: then costs an exact check): the only way a lone surrogate gets into strictly decoded
#: UTF-8 text.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def parse_line(line: bytes) -> dict[str, Any]:
    """One worker line as a JSON object; :class:`ProtocolError` for anything else.

    Strict UTF-8, standard JSON, and any failure of the parser (``RecursionError`` for
    deep nesting, ``MemoryError``, a number too long to convert) is a
    :class:`ProtocolError`, never the parser's own exception. A string with a lone
    surrogate anywhere is refused too.
    """
    try:
        text = line.decode("utf-8")
        message = _DECODER.decode(text)
        if "\\u" in text and _SURROGATE_ESCAPE.search(text):  # the find first: it is C-fast
            # Exact check: every string the message holds must encode as UTF-8.
            json.dumps(message, ensure_ascii=False).encode("utf-8")
    except Exception:  # whatever the parser raised, the line is hostile
        raise ProtocolError("the worker sent a line that is not a plain JSON object") from None
    if type(message) is not dict:
        raise ProtocolError("the worker sent a line that is not a plain JSON object")
    return message


# -- shapes ----------------------------------------------------------------------------


def is_int(value: Any, low: int = -MAX_INT, high: int = MAX_INT) -> bool:
    return type(value) is int and low <= value <= high


def is_identifier(value: object, limit: int = 200) -> bool:
    return type(value) is str and len(value) <= limit and value.isidentifier()


def is_dotted_name(value: object, limit: int = 200) -> bool:
    """A (module-qualified) type name: identifiers joined by dots."""
    return (
        type(value) is str
        and len(value) <= limit
        and all(part.isidentifier() for part in value.split("."))
    )


def check_log(log: Any) -> list[int]:
    """An action log as a list: ints from ``FULL_READ`` (-2) up to a slot index."""
    if type(log) is not list:
        raise ProtocolError("an action log is not a list")
    if log and not (
        all(type(action) is int for action in log) and min(log) >= -2 and max(log) < 2**31
    ):
        raise ProtocolError("an action log holds something no action is")
    return log


_STEP_KEYS = frozenset({"event", "goal", "input", "output", "state", "decision"})
_READ_SHAPE: dict[str, dict[str, Any]] = {
    "input": {"branch": int, "depth": int, "full": bool},
    "output": {"answer": str, "finished": bool},
    "state": {"charged": (int, float), "tokens": (int, float)},
}
_READ_OUTPUT_WITH_CONFIDENCE: dict[str, Any] = {
    **_READ_SHAPE["output"],
    "confidence": (int, float),
}


def check_trace(trace: Any) -> list[dict[str, Any]]:
    """A traced episode's steps (:meth:`~autotts.env.session.Session.trace`'s shape):
    at most :data:`MAX_TRACE_STEPS`, shallow values, the environment's ``read`` steps
    with exactly the fields it writes."""
    if type(trace) is not list or len(trace) > MAX_TRACE_STEPS:
        raise ProtocolError(f"a trace is not a list of at most {MAX_TRACE_STEPS} steps")
    for step in trace:
        if type(step) is not dict or step.keys() != _STEP_KEYS:
            raise ProtocolError("a trace step does not have the fields a step has")
        for key in ("event", "goal", "decision"):
            value = step[key]
            if type(value) is not str or len(value) > MAX_TRACE_STRING:
                raise ProtocolError(f"a trace step's {key} is not a short string")
        for key in ("input", "output", "state"):
            _check_value(step[key], MAX_TRACE_DEPTH)
        if step["event"] == "read":
            for key, fields in _READ_SHAPE.items():
                value = step[key]
                if key == "output" and type(value) is dict and "confidence" in value:
                    # a probe's confidence, on data that has them (env/tracing.py)
                    fields = _READ_OUTPUT_WITH_CONFIDENCE
                if type(value) is not dict or value.keys() != fields.keys():
                    raise ProtocolError("a read step does not have the fields the session writes")
                for name, kind in fields.items():
                    field = value[name]
                    if not isinstance(field, kind) or (kind is int and type(field) is bool):
                        raise ProtocolError("a read step's field has the wrong type")
    return trace


def _check_value(value: Any, depth: int) -> None:
    """A JSON value no deeper than ``depth``, with bounded strings, ints and floats."""
    kind = type(value)
    if value is None or kind is bool:
        return
    if kind is int:
        if not is_int(value):
            raise ProtocolError("a number in a trace is out of range")
    elif kind is float:
        if not math.isfinite(value):
            raise ProtocolError("a number in a trace is not finite")
    elif kind is str:
        if len(value) > MAX_TRACE_STRING:
            raise ProtocolError("a string in a trace is too long")
    elif kind is list or kind is dict:
        if depth <= 0:
            raise ProtocolError("a trace value is nested too deeply")
        for item in value.values() if kind is dict else value:
            _check_value(item, depth - 1)
    else:  # pragma: no cover - JSON has no other types
        raise ProtocolError("a trace value is not JSON")
