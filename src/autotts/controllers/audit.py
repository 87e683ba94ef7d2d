"""Static audit of controller source code before it is run.

A controller may only learn about branches through the public session API. In
one Python process nothing can truly be hidden from code that goes looking, so
controller files are read before they are imported, and code that could reach
past the API is refused with the line that does it:

* attributes starting with ``_`` on anything but ``self``/``cls`` (``session._episode``,
  ``obj.__dict__``, ``fn.__closure__``, ``frame.f_locals`` via dunders, ...);
* introspection and escape hatches: ``getattr``, ``vars``, ``eval``, ``exec``,
  ``open``, ``__import__``, ``globals``, ...;
* imports outside a small allow-list of pure computation modules.

This is a lint, not a security boundary: gold answers never enter the process
that runs a controller at all, and untrusted code runs in a separate, limited
process (the discovery sandbox). What the lint buys is that an honest-but-
careless controller (an LLM's, say) cannot peek at unrevealed data by accident.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

__all__ = ["ALLOWED_IMPORTS", "AuditFinding", "audit_source"]

#: Top-level modules a controller may import.
ALLOWED_IMPORTS = frozenset(
    {
        "__future__",
        "abc",
        "autotts",
        "bisect",
        "collections",
        "dataclasses",
        "enum",
        "functools",
        "heapq",
        "itertools",
        "math",
        "numpy",
        "operator",
        "statistics",
        "typing",
    }
)

_FORBIDDEN_NAMES = frozenset(
    {
        "__builtins__",
        "__cached__",
        "__file__",
        "__import__",
        "__loader__",
        "__spec__",
        "breakpoint",
        "compile",
        "delattr",
        "eval",
        "exec",
        "getattr",
        "globals",
        "input",
        "locals",
        "memoryview",
        "open",
        "setattr",
        "vars",
    }
)

_SELF_NAMES = frozenset({"self", "cls"})


@dataclass(frozen=True)
class AuditFinding:
    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


def audit_source(source: str, filename: str = "<controller>") -> list[AuditFinding]:
    """Every reason to refuse ``source``; an empty list means it passes."""
    try:
        tree = ast.parse(source, filename=filename)
    except SyntaxError as exc:
        return [AuditFinding(exc.lineno or 0, f"syntax error: {exc.msg}")]
    findings: list[AuditFinding] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                _check_import(alias.name, node, findings)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                findings.append(AuditFinding(node.lineno, "relative imports are not allowed"))
            else:
                _check_import(node.module or "", node, findings)
                if (node.module or "").split(".")[0] == "autotts":
                    for alias in node.names:
                        if alias.name.startswith("_"):
                            findings.append(
                                AuditFinding(node.lineno, f"import of private name {alias.name!r}")
                            )
        elif isinstance(node, ast.Attribute):
            _check_attribute(node, findings)
        elif isinstance(node, ast.Name) and node.id in _FORBIDDEN_NAMES:
            findings.append(AuditFinding(node.lineno, f"use of {node.id!r} is not allowed"))
    return sorted(set(findings), key=lambda f: (f.line, f.message))


def _check_import(module: str, node: ast.stmt, findings: list[AuditFinding]) -> None:
    top = module.split(".")[0]
    if top not in ALLOWED_IMPORTS:
        allowed = ", ".join(sorted(ALLOWED_IMPORTS - {"__future__"}))
        findings.append(
            AuditFinding(node.lineno, f"import of {module!r} is not allowed (allowed: {allowed})")
        )
    elif any(part.startswith("_") for part in module.split(".")[1:]):
        findings.append(AuditFinding(node.lineno, f"import of private module {module!r}"))


def _check_attribute(node: ast.Attribute, findings: list[AuditFinding]) -> None:
    name = node.attr
    if not name.startswith("_"):
        return
    base = node.value
    on_self = isinstance(base, ast.Name) and base.id in _SELF_NAMES
    if on_self and not (name.startswith("__") and name.endswith("__")):
        return  # the controller's own private state
    calls_super = (
        isinstance(base, ast.Call) and isinstance(base.func, ast.Name) and base.func.id == "super"
    )
    if calls_super and name == "__init__":
        return
    findings.append(
        AuditFinding(
            node.lineno,
            f"access to private attribute {name!r}: controllers may use only the public "
            "session API (probe_new, probe_more, full_read, ...)",
        )
    )
