"""The worker's side of a candidate file: load it, build its controller, classify what
escapes from its code.

Used by :mod:`autotts.sandbox.worker` (the sandboxed process), on CPython and PyPy
alike; standard library and the pure-Python parts of autotts only.
"""

from __future__ import annotations
import __future__

import builtins
import functools
import inspect
import sys
import types
from typing import Any

from autotts.controllers.base import Controller
from autotts.controllers.upstream import is_upstream_class, wrap_upstream
from autotts.sandbox.protocol import check_params

__all__ = ["Candidate", "Failure", "classify"]

_PYPY = sys.implementation.name == "pypy"


class Failure(Exception):
    """A candidate's failure: the worker reports it and stops.

    Reported as data, not prose: ``what`` is a code of
    :data:`~autotts.sandbox.protocol.FAILURES` (the parent words the message from it),
    ``reason`` one of the reason codes that entry allows, ``type`` and ``line`` an
    exception's type name and line in the candidate's file, ``cls`` the class it is
    about, ``text`` the candidate's own text (an exception's message), which the parent
    shows only quoted.
    """

    def __init__(
        self,
        reason: str,
        what: str,
        *,
        episode: int | None = None,
        type: str | None = None,  # the report's field name
        line: int | None = None,
        text: str | None = None,
        cls: str | None = None,
    ) -> None:
        super().__init__(f"{what}: {text}")
        self.reason, self.what, self.episode = reason, what, episode
        self.type, self.line, self.text = type, line, text
        #: the class the failure is about, when the file named it and not the evaluator
        self.cls = cls
        #: the failing episode's action log and trace so far (``{"l": ..., "t": ...}``)
        self.partial: dict[str, Any] | None = None

    def report(self) -> dict[str, Any]:
        """The failure report the worker sends (the parent checks every field)."""
        message: dict[str, Any] = {
            "ok": False,
            "reason": self.reason,
            "what": self.what,
            "episode": self.episode,
        }
        if self.type is not None:
            message["type"] = self.type
        if self.line is not None:
            message["line"] = self.line
        if self.cls is not None:
            message["class"] = self.cls
        if self.text:
            # Bounded, and valid UTF-8 (a lone surrogate in an exception's message would
            # otherwise make the report itself unsendable).
            message["text"] = self.text[:2000].encode("utf-8", "replace").decode("utf-8")
        if self.partial is not None:
            message["partial"] = self.partial
        return message


#: The reason code of an exception escaping candidate code at each stage (``what``),
#: unless it is a MemoryError (``memory``) or an OSError (``forbidden``).
_STAGE_REASONS = {
    "load-raised": "load",
    "init-raised": "interface",
    "params-raised": "crash",
    "solve-raised": "crash",
}


def classify(exc: BaseException, what: str, episode: int | None = None) -> Failure:
    """The failure report of an exception that escaped candidate code at stage ``what``."""
    if isinstance(exc, MemoryError):
        reason = "memory"
    elif isinstance(exc, OSError):
        reason = "forbidden"
    else:
        reason = _STAGE_REASONS[what]
    name = type(exc).__name__
    try:  # the candidate's own __str__ may raise, or return a str subclass
        text: str | None = str.__str__(str(exc))[:2000]
    except BaseException:  # any failure of it leaves no text
        text = None
    return Failure(
        reason,
        what,
        episode=episode,
        type=name if isinstance(name, str) and name.isidentifier() else None,
        line=_line_in_candidate(exc),
        text=text,
    )


def _line_in_candidate(exc: BaseException) -> int | None:
    tb, line = exc.__traceback__, None
    while tb is not None:  # the innermost frame in the candidate's own file
        if tb.tb_frame.f_code.co_filename.startswith("candidate:"):
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


#: Python 3.9 (Debian's PyPy) evaluates annotations such as ``str | None`` when a function
#: is defined, and fails; later Pythons do not. Postponed, they are never evaluated.
_FLAGS = __future__.annotations.compiler_flag if sys.version_info < (3, 10) else 0


@functools.lru_cache(maxsize=4)
def _compiled(source: str, filename: str) -> types.CodeType:
    """The file's code object, compiled once per worker: a kept worker runs it again in
    a fresh module for every cell, and under PyPy the same code objects keep the JIT's
    compiled loops, which fresh ones (a new compile per cell) would have to trace anew."""
    code: types.CodeType = compile(
        source, f"candidate:{filename}", "exec", flags=_FLAGS, dont_inherit=True
    )
    return code


#: The globals the candidate's file runs in under PyPy (see Candidate).
_NAMESPACE: dict[str, Any] = {}


class Candidate:
    """The loaded candidate file and its controller class."""

    def __init__(self, source: str, filename: str, class_name: str | None) -> None:
        module = types.ModuleType("autotts_candidate")
        module.__file__ = filename
        sys.modules[module.__name__] = module
        # Under PyPy the file runs in a plain dict, copied into the module afterwards.
        # PyPy's JIT specialises global lookups on a module's dict, and the fresh module
        # of every cell left the candidate's loops 1.5-2x slower in every cell (measured
        # in a kept worker); a plain dict's lookups stay generic and its loops warm once.
        # It is the same dict for every cell, emptied first, so nothing of the last
        # cell's globals is left: a new dict per cell took 13-22 % more CPU over 12 cells
        # and warmed up more slowly (benchmarks/pypy_cells.py, a bare PyPy process).
        namespace: dict[str, Any] = _NAMESPACE if _PYPY else module.__dict__
        if _PYPY:
            namespace.clear()
            namespace.update(
                {"__name__": module.__name__, "__file__": filename, "__builtins__": builtins}
            )
        try:
            code = _compiled(source, filename)
        except SyntaxError as exc:
            line = exc.lineno if isinstance(exc.lineno, int) and exc.lineno > 0 else None
            raise Failure("load", "syntax", line=line, text=f"syntax error: {exc.msg}") from None
        try:
            exec(code, namespace)
            if namespace is not module.__dict__:
                module.__dict__.update(namespace)
        except BaseException as exc:
            raise classify(exc, "load-raised") from None
        local = {
            n: v
            for n, v in vars(module).items()
            if inspect.isclass(v)
            and v.__module__ == module.__name__
            and (issubclass(v, Controller) or is_upstream_class(v))
        }
        found = ", ".join(sorted(local)) or "none"
        if class_name is None:
            if len(local) != 1:
                raise Failure("load", "no-class", text=found)
            class_name = next(iter(local))
        cls = vars(module).get(class_name)
        if cls is None:
            raise Failure("load", "unknown-class", text=found)
        if inspect.isclass(cls) and issubclass(cls, Controller):
            self.kind = "native"
            if inspect.isabstract(cls):
                raise Failure("interface", "abstract", cls=class_name)
            self.cls: type[Any] = cls
        elif is_upstream_class(cls):
            self.kind = "upstream"
            self.cls = wrap_upstream(cls)
        else:
            raise Failure("interface", "not-a-controller", cls=class_name)
        self.class_name = class_name
        try:
            parameters = inspect.signature(self.cls).parameters.values()
        except (TypeError, ValueError) as exc:
            raise Failure("interface", "signature", cls=class_name, text=str(exc)) from None
        self.signature = [
            {"name": p.name, "required": p.default is inspect.Parameter.empty}
            for p in parameters
            if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
        ]
        self.controller: Any = None

    def build(self, beta: float | None, params: dict[str, Any]) -> dict[str, Any]:
        kwargs = dict(params)
        if beta is not None:
            kwargs["beta"] = beta
        try:
            self.controller = self.cls(**kwargs)
        except BaseException as exc:
            raise classify(exc, "init-raised") from None
        try:
            params_out = _plain(self.controller.params())
        except BaseException as exc:
            raise classify(exc, "params-raised") from None
        # Written into every result: a plain dict of a few scalars, or a rejection (the
        # parent checks it again; this check is for the honest candidate's message).
        problem = check_params(params_out)
        if problem is not None:
            raise Failure("interface", "params", text=problem)
        return dict(params_out)


def _plain(params: Any) -> Any:
    """``params`` with subclasses of the scalar types (a NumPy float, a str subclass) made
    the plain values they stand for; anything else is left for :func:`check_params`."""
    if not isinstance(params, dict):
        return params
    out = {}
    for key, value in dict.items(params):
        if isinstance(key, str):
            key = str.__str__(key)
        if isinstance(value, bool):
            value = bool(value)
        elif isinstance(value, int):
            value = int(value)
        elif isinstance(value, float):
            value = float(value)
        elif isinstance(value, str):
            value = str.__str__(value)
        out[key] = value
    return out
