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

__all__ = ["Candidate", "Failure", "classify"]

_PYPY = sys.implementation.name == "pypy"


class Failure(Exception):
    """A candidate's failure, with its reason code: the worker reports it and stops."""

    def __init__(self, reason: str, detail: str, episode: int | None = None) -> None:
        super().__init__(detail)
        self.reason, self.detail, self.episode = reason, detail, episode
        #: the failing episode's action log and trace so far (``{"l": ..., "t": ...}``)
        self.partial: dict[str, Any] | None = None


def classify(exc: BaseException, where: str = "", episode: int | None = None) -> Failure:
    """Reason code of an exception that escaped candidate code."""
    text = f"{where}{': ' if where else ''}{type(exc).__name__}: {exc}"[:2000]
    if isinstance(exc, MemoryError):
        return Failure("memory", text, episode)
    if isinstance(exc, OSError):
        return Failure("forbidden", text, episode)
    return Failure("crash", text + _where_in_candidate(exc), episode)


def _where_in_candidate(exc: BaseException) -> str:
    tb, where = exc.__traceback__, ""
    while tb is not None:  # the innermost frame in the candidate's own file
        filename = tb.tb_frame.f_code.co_filename
        if filename.startswith("candidate:"):
            where = f" at {filename.removeprefix('candidate:')}:{tb.tb_lineno}"
        tb = tb.tb_next
    return where


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
        from autotts.controllers.base import Controller
        from autotts.controllers.upstream import is_upstream_class, wrap_upstream

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
            exec(_compiled(source, filename), namespace)
            if namespace is not module.__dict__:
                module.__dict__.update(namespace)
        except SyntaxError as exc:
            raise Failure("load", f"line {exc.lineno}: syntax error: {exc.msg}") from None
        except BaseException as exc:
            failure = classify(exc, "loading the file")
            raise Failure(
                failure.reason if failure.reason != "crash" else "load", failure.detail
            ) from None
        local = {
            n: v
            for n, v in vars(module).items()
            if inspect.isclass(v)
            and v.__module__ == module.__name__
            and (issubclass(v, Controller) or is_upstream_class(v))
        }
        if class_name is None:
            if len(local) != 1:
                found = ", ".join(sorted(local)) or "none"
                raise Failure(
                    "load", f"name the class as FILE.py:Class (controller classes found: {found})"
                )
            class_name = next(iter(local))
        cls = vars(module).get(class_name)
        if cls is None:
            found = ", ".join(sorted(local)) or "none"
            raise Failure("load", f"unknown class in the file: {class_name!r} (found: {found})")
        if inspect.isclass(cls) and issubclass(cls, Controller):
            self.kind = "native"
            if inspect.isabstract(cls):
                raise Failure("interface", f"{class_name} does not implement solve(session)")
            self.cls: type[Any] = cls
        elif is_upstream_class(cls):
            self.kind = "upstream"
            self.cls = wrap_upstream(cls)
        else:
            raise Failure(
                "interface",
                f"{class_name} is neither an autotts.Controller subclass nor an upstream-format "
                "class (__init__(self, config=None) and solve(question))",
            )
        self.class_name = class_name
        try:
            parameters = inspect.signature(self.cls).parameters.values()
        except (TypeError, ValueError) as exc:
            raise Failure("interface", f"cannot read {class_name}.__init__: {exc}") from None
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
            failure = classify(exc, f"{self.class_name}(**{kwargs})")
            raise Failure(
                "interface" if failure.reason == "crash" else failure.reason, failure.detail
            ) from None
        try:
            params_out = self.controller.params()
        except BaseException as exc:
            raise classify(exc, "params()") from None
        return {
            str(k): v
            for k, v in dict(params_out).items()
            if isinstance(v, (int, float, str, bool)) or v is None
        }
