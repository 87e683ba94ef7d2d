"""Controllers by name, and controllers loaded from user files.

A :class:`ControllerSpec` names a controller and records everything needed to
build it again: registry name (or ``path.py:Class``), β if one was given, and
explicit parameters. Results store the spec, so any number can be re-run.
"""

from __future__ import annotations

import ast
import hashlib
import importlib.util
import inspect
import json
import sys
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from autotts.controllers.asc import AdaptiveConsistency
from autotts.controllers.base import Controller
from autotts.controllers.cmc import ConfidenceMomentum
from autotts.controllers.discovered.swc import SteadyWideningConfidence
from autotts.controllers.esc import EarlyStoppingConsistency
from autotts.controllers.parallel_probe import ParallelProbe
from autotts.controllers.references import split_reference
from autotts.controllers.sc import SelfConsistency
from autotts.controllers.schedules import check_beta
from autotts.controllers.upstream import is_upstream_class, wrap_upstream
from autotts.errors import AutoTTSError, ControllerError, UnknownName, UsageError

__all__ = [
    "REGISTRY",
    "ControllerSpec",
    "build",
    "is_file_reference",
    "load_controller_class",
    "pick_class",
    "registered",
    "split_reference",
]


@dataclass(frozen=True)
class Registered:
    """A built-in controller: its class, its β schedule and a one-line description."""

    cls: type[Controller]
    from_beta: Callable[[float], Controller]
    summary: str


REGISTRY: dict[str, Registered] = {
    "sc": Registered(
        SelfConsistency, SelfConsistency.from_beta, "self-consistency: majority of n full reads"
    ),
    "asc": Registered(
        AdaptiveConsistency,
        AdaptiveConsistency.from_beta,
        "adaptive consistency: full reads until Beta confidence > threshold",
    ),
    "esc": Registered(
        EarlyStoppingConsistency,
        EarlyStoppingConsistency.from_beta,
        "early-stopping SC: windows of full reads, stop on a unanimous window",
    ),
    "parallel-probe": Registered(
        ParallelProbe,
        ParallelProbe.from_beta,
        "lock-step probing of a cohort, prune off-track chains, stop on a stable majority",
    ),
    "cmc": Registered(
        ConfidenceMomentum,
        ConfidenceMomentum.from_beta,
        "confidence momentum controller (discovered): EMA-gated stop, adaptive width",
    ),
    "swc": Registered(
        SteadyWideningConfidence,
        SteadyWideningConfidence.from_beta,
        "steady-widening confidence controller (found by autotts optimize, no LLM)",
    ),
}


def registered() -> dict[str, Registered]:
    return dict(REGISTRY)


@dataclass(frozen=True)
class ControllerSpec:
    """What to build: ``name`` (registry name or ``path.py:Class``), β, explicit params."""

    name: str
    beta: float | None = None
    params: dict[str, Any] = field(default_factory=dict)
    #: import a controller file into this process (no sandbox): only for code you vouch for
    trusted: bool = False

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name}
        if self.beta is not None:
            out["beta"] = self.beta
        if self.params:
            out["params"] = dict(sorted(self.params.items()))
        if is_file_reference(self.name):
            out["source_sha256"] = _file_sha256(str(split_reference(self.name)[0]))
        return out

    def label(self) -> str:
        parts = [self.name]
        if self.beta is not None:
            parts.append(f"β={self.beta:g}")
        parts += [f"{k}={v}" for k, v in sorted(self.params.items())]
        return " ".join(parts)


def build(spec: ControllerSpec) -> Controller:
    """Instantiate the controller a spec describes; errors are one-line :class:`UsageError`s.

    A controller file not marked ``trusted`` is never imported in this process: the
    result is a :class:`~autotts.sandbox.live_client.SandboxedController`, whose
    ``solve(session)`` runs the file's controller in a sandboxed worker process and
    forwards each session read to ``session`` here (one round trip per read; its
    ``params()`` are the file controller's). It works with any session, replayed or live;
    to evaluate a file on replay data, :func:`autotts.evaluation.jobs.evaluate` with an
    ``EvalJob`` is far faster (the episodes go to the worker as data). Its workers stop
    when it is garbage-collected or ``close()``d. A file that fails to load or build
    raises :class:`~autotts.errors.CandidateRejected` here. ``trusted=True`` imports the
    file in this process instead (:func:`load_controller_class`).
    """
    if spec.name in REGISTRY:
        entry = REGISTRY[spec.name]
        if spec.beta is not None and spec.params:
            raise UsageError(f"{spec.name}: give either beta or explicit parameters, not both")
        if spec.beta is not None:
            return entry.from_beta(check_beta(spec.beta))
        return _construct(entry.cls, spec.params, spec.name, entry.cls().params())
    if is_file_reference(spec.name):
        if not spec.trusted:
            # start-up time: `import autotts` imports the registry; the sandbox's parent side loads
            # for a controller file only
            from autotts.sandbox.candidate import read_candidate
            from autotts.sandbox.live_client import SandboxedController

            beta = None if spec.beta is None else check_beta(spec.beta)
            return SandboxedController.start(read_candidate(spec.name), beta, dict(spec.params))
        cls = load_controller_class(spec.name, trusted=True)
        params = dict(spec.params)
        if spec.beta is not None:
            params["beta"] = check_beta(spec.beta)
        return _construct(cls, params, spec.name)
    raise UnknownName("controller", spec.name, REGISTRY)


def _construct(
    cls: type[Controller],
    params: dict[str, Any],
    label: str,
    resolved: dict[str, Any] | None = None,
) -> Controller:
    """``cls(**params)`` with every parameter name and value type checked first.

    ``resolved`` (a built-in's default parameters) adds the settings a constructor
    takes through ``**kwargs`` (CMC's schedule outputs) and gives their types.
    """
    signature = inspect.signature(cls)
    expected = {**_value_types(resolved or {}), **_declared_types(cls)}
    accepts_any = any(p.kind is p.VAR_KEYWORD for p in signature.parameters.values())
    known = [k for k in signature.parameters if k != "self"]
    known += [k for k in resolved or {} if k not in known]
    unknown = [key for key in params if key not in known]
    if unknown and (resolved is not None or not accepts_any):
        raise UnknownName(f"parameter of {label}", unknown[0], known)
    checked = {
        key: _coerce(value, expected.get(key), f"parameter {key} of {label}")
        for key, value in params.items()
    }
    try:
        return cls(**checked)
    except AutoTTSError:
        raise  # already says what is wrong (and, for built-ins, which controller)
    except (TypeError, ValueError) as exc:
        raise UsageError(f"{label}: {exc}") from None


_CHECKED_TYPES = (bool, int, float, str)


def _declared_types(cls: type[Controller]) -> dict[str, type]:
    """Constructor parameters annotated (or defaulted) as bool, int, float or str."""
    try:
        hints = typing.get_type_hints(cls.__init__)
    except Exception:  # an annotation that does not resolve: fall back to the defaults
        hints = {}
    types: dict[str, type] = {}
    for name, param in inspect.signature(cls).parameters.items():
        hint = hints.get(name)
        if hint in _CHECKED_TYPES:
            types[name] = hint
        elif hint is None and type(param.default) in _CHECKED_TYPES:
            types[name] = type(param.default)
    return types


def _value_types(values: dict[str, Any]) -> dict[str, type]:
    return {k: type(v) for k, v in values.items() if type(v) in _CHECKED_TYPES}


def _coerce(value: Any, expected: type | None, what: str) -> Any:
    """``value`` as ``expected`` (int, float, bool, str), or a one-line UsageError."""
    shown = repr(value) if isinstance(value, str) else _json_text(value)
    if expected is int:
        if isinstance(value, float) and not isinstance(value, bool) and value.is_integer():
            return int(value)
        if not isinstance(value, int) or isinstance(value, bool):
            raise UsageError(f"{what} must be an integer, got {shown}")
    elif expected is float:
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            raise UsageError(f"{what} must be a number, got {shown}")
        return float(value)
    elif expected is bool:
        if not isinstance(value, bool):
            raise UsageError(f"{what} must be true or false, got {shown}")
    elif expected is str and not isinstance(value, str):
        return _json_text(value)
    return value


def _json_text(value: Any) -> str:
    try:
        return json.dumps(value)
    except (TypeError, ValueError):
        return repr(value)


def is_file_reference(name: str) -> bool:
    """Whether ``name`` names a controller file (``path.py`` or ``path.py:Class``)."""
    return name not in REGISTRY and (":" in name or name.endswith(".py"))


def _is_controller_class(module: ModuleType, value: Any) -> bool:
    return (
        inspect.isclass(value)
        and issubclass(value, Controller)
        and value.__module__ == module.__name__  # defined there, not imported
    )


def _is_candidate_class(module: ModuleType, value: Any) -> bool:
    """A controller class defined in ``module``, native or in the upstream format."""
    if _is_controller_class(module, value):
        return True
    return is_upstream_class(value) and getattr(value, "__module__", None) == module.__name__


def pick_class(
    module: ModuleType,
    path: Path,
    class_name: str | None,
    accept: Callable[[ModuleType, Any], bool] = _is_controller_class,
    kind: str = "subclass of autotts.Controller",
) -> Any:
    """The class a file reference names; without a name, the file's only candidate.

    ``accept(module, value)`` says which module attributes are candidates (by default,
    :class:`Controller` subclasses defined in the file); another loader can pass its
    own test and ``kind`` (how the error messages call a candidate).
    """
    candidates = [name for name, value in vars(module).items() if accept(module, value)]
    if class_name is not None:
        if class_name not in vars(module):
            raise UnknownName(f"class in {path}", class_name, candidates)
        return vars(module)[class_name]
    if len(candidates) == 1:
        return vars(module)[candidates[0]]
    if not candidates:
        raise UsageError(f"{path} defines no {kind}")
    options = " or ".join(f"{path}:{name}" for name in candidates)
    raise UsageError(
        f"{path} has {len(candidates)} controller classes ({', '.join(candidates)}): "
        f"pick one with {options}"
    )


def load_controller_class(reference: str, *, trusted: bool = False) -> type[Controller]:
    """Import ``path/to/file.py:ClassName`` (a :class:`Controller` subclass), or
    ``path/to/file.py`` when the file defines exactly one, into this process.

    The one place a controller file's code runs in this process, so only for a file
    the caller vouches for: without ``trusted`` it raises :class:`ControllerError`
    (the static audit is advice, not a boundary; an untrusted file runs in the sandbox:
    :func:`build`, ``autotts eval``/``check``). A syntax error is reported as such,
    with file and line.
    """
    path, class_name = split_reference(reference)
    if not trusted:
        raise ControllerError(
            f"{path} is not trusted, so it is not imported into this process: evaluate it "
            "in the sandbox (autotts eval, autotts.build or autotts.evaluation.jobs.evaluate), "
            "or pass trusted=True (--trust on the command line) for a file you wrote yourself"
        )
    if not path.is_file():
        raise UsageError(f"controller file {path} does not exist")
    try:
        # Decoded as the import system decodes source (coding line, BOM), and compiled
        # from that text: no .pyc is ever consulted.
        source = importlib.util.decode_source(path.read_bytes())
    except (OSError, UnicodeDecodeError, LookupError) as exc:
        raise UsageError(f"cannot read controller file {path}: {exc}") from None
    try:
        ast.parse(source, filename=str(path))
    except SyntaxError as exc:
        raise ControllerError(f"{path}:{exc.lineno or 0}: syntax error: {exc.msg}") from None
    module_name = f"autotts_user_{hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:12]}"
    module = types.ModuleType(module_name)
    module.__file__ = str(path)
    sys.modules[module_name] = module
    try:
        exec(compile(source, str(path), "exec", dont_inherit=True), module.__dict__)
    except Exception as exc:
        sys.modules.pop(module_name, None)
        line = _error_line(exc, path)
        raise ControllerError(f"{path}{line}: {type(exc).__name__}: {exc}") from None
    cls = pick_class(
        module,
        path,
        class_name,
        accept=_is_candidate_class,
        kind="controller class (an autotts.Controller subclass, or the upstream format)",
    )
    if is_upstream_class(cls):  # the published format: __init__(config), solve(question)
        return wrap_upstream(cls)
    if not (inspect.isclass(cls) and issubclass(cls, Controller)):
        raise UsageError(f"{reference}: {class_name} is not a subclass of autotts.Controller")
    if inspect.isabstract(cls):
        raise UsageError(f"{reference}: {cls.__name__} does not implement solve(session)")
    return cls


def _error_line(exc: BaseException, path: Path) -> str:
    if isinstance(exc, SyntaxError) and exc.lineno:
        return f":{exc.lineno}"
    tb = exc.__traceback__
    line = None
    while tb is not None:
        if Path(tb.tb_frame.f_code.co_filename) == path:
            line = tb.tb_lineno
        tb = tb.tb_next
    return f":{line}" if line else ""


def _file_sha256(path: str) -> str:
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except OSError:
        return ""
