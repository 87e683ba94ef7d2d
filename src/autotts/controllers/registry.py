"""Controllers by name, and controllers loaded from user files.

A :class:`ControllerSpec` names a controller and records everything needed to
build it again: registry name (or ``path.py:Class``), β if one was given, and
explicit parameters. Results store the spec, so any number can be re-run.
"""

from __future__ import annotations

import hashlib
import importlib.util
import inspect
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from autotts.controllers.asc import AdaptiveConsistency
from autotts.controllers.audit import audit_source
from autotts.controllers.base import Controller
from autotts.controllers.cmc import ConfidenceMomentum
from autotts.controllers.discovered.swc import SteadyWideningConfidence
from autotts.controllers.esc import EarlyStoppingConsistency
from autotts.controllers.parallel_probe import ParallelProbe
from autotts.controllers.sc import SelfConsistency
from autotts.controllers.schedules import check_beta
from autotts.errors import ControllerError, UnknownName, UsageError

__all__ = ["REGISTRY", "ControllerSpec", "build", "load_controller_class", "registered"]


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
    #: skip the source audit of a controller file (see :mod:`autotts.controllers.audit`)
    trusted: bool = False

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name}
        if self.beta is not None:
            out["beta"] = self.beta
        if self.params:
            out["params"] = dict(sorted(self.params.items()))
        if ":" in self.name and self.name not in REGISTRY:
            out["source_sha256"] = _file_sha256(self.name.rsplit(":", 1)[0])
        return out

    def label(self) -> str:
        parts = [self.name]
        if self.beta is not None:
            parts.append(f"β={self.beta:g}")
        parts += [f"{k}={v}" for k, v in sorted(self.params.items())]
        return " ".join(parts)


def build(spec: ControllerSpec) -> Controller:
    """Instantiate the controller a spec describes; errors are one-line :class:`UsageError`s."""
    if spec.name in REGISTRY:
        entry = REGISTRY[spec.name]
        if spec.beta is not None and spec.params:
            raise UsageError(f"{spec.name}: give either beta or explicit parameters, not both")
        if spec.beta is not None:
            return entry.from_beta(check_beta(spec.beta))
        return _construct(entry.cls, spec.params, spec.name)
    if ":" in spec.name:
        cls = load_controller_class(spec.name, trusted=spec.trusted)
        params = dict(spec.params)
        if spec.beta is not None:
            params["beta"] = check_beta(spec.beta)
        return _construct(cls, params, spec.name)
    raise UnknownName("controller", spec.name, REGISTRY)


def _construct(cls: type[Controller], params: dict[str, Any], label: str) -> Controller:
    signature = inspect.signature(cls)
    unknown = [key for key in params if key not in signature.parameters]
    accepts_any = any(p.kind is p.VAR_KEYWORD for p in signature.parameters.values())
    if unknown and not accepts_any:
        known = [k for k in signature.parameters if k != "self"]
        raise UnknownName(f"parameter of {label}", unknown[0], known)
    try:
        return cls(**params)
    except (TypeError, ValueError) as exc:
        raise UsageError(f"{label}: {exc}") from None


def load_controller_class(reference: str, *, trusted: bool = False) -> type[Controller]:
    """Load ``path/to/file.py:ClassName`` (a :class:`Controller` subclass).

    Unless ``trusted``, the file must pass :func:`~autotts.controllers.audit.audit_source`
    before it is imported.
    """
    path_text, _, class_name = reference.rpartition(":")
    path = Path(path_text)
    if not path_text or not class_name:
        raise UsageError(f"expected a controller as path/to/file.py:ClassName, got {reference!r}")
    if not path.is_file():
        raise UsageError(f"controller file {path} does not exist")
    if not trusted:
        try:
            source = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"cannot read controller file {path}: {exc}") from None
        findings = audit_source(source, str(path))
        if findings:
            listed = "; ".join(str(f) for f in findings[:5])
            more = f" (and {len(findings) - 5} more)" if len(findings) > 5 else ""
            raise ControllerError(
                f"{path} fails the controller audit: {listed}{more}. Controllers may use only "
                "the public API; pass --trust to run a file you wrote yourself anyway"
            )
    module_name = f"autotts_user_{hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:12]}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise UsageError(f"cannot import {path}: not a Python source file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        sys.modules.pop(module_name, None)
        line = _error_line(exc, path)
        raise ControllerError(f"{path}{line}: {type(exc).__name__}: {exc}") from None
    cls = getattr(module, class_name, None)
    if cls is None:
        classes = [
            n for n, v in vars(module).items() if inspect.isclass(v) and issubclass(v, Controller)
        ]
        raise UnknownName(f"class in {path}", class_name, classes)
    if not (inspect.isclass(cls) and issubclass(cls, Controller)):
        raise UsageError(f"{reference}: {class_name} is not a subclass of autotts.Controller")
    if inspect.isabstract(cls):
        raise UsageError(f"{reference}: {class_name} does not implement solve(session)")
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
