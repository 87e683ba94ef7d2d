"""A candidate controller file, read once: the exact text that is audited and executed.

The file's bytes are decoded the way Python's import decodes source (honouring a
``# coding:`` declaration and a BOM), and that one string is both what the static
audit reads and what the worker compiles. No ``.pyc`` is ever consulted, so no
cache or coding-cookie trick can make the executed code differ from the audited.
"""

from __future__ import annotations

import ast
import hashlib
import importlib.util
from dataclasses import dataclass
from pathlib import Path

from autotts.controllers.audit import AuditFinding, audit_source
from autotts.controllers.references import split_reference
from autotts.errors import CandidateRejected, UsageError

__all__ = ["CandidateFile", "read_candidate", "split_reference"]


@dataclass(frozen=True)
class CandidateFile:
    path: Path
    class_name: str | None
    source: str
    sha256: str

    def audit(self) -> list[AuditFinding]:
        """Static advice on the executed text (not a verdict: the sandbox is the boundary)."""
        findings = audit_source(self.source, str(self.path))
        first = self.source.split("\n", 2)[:2]
        if any("coding" in line and line.lstrip().startswith("#") for line in first):
            findings.insert(0, AuditFinding(1, "declares a source encoding other than UTF-8"))
        return findings


def read_candidate(reference: str) -> CandidateFile:
    """Read and decode a candidate file; a missing file is a :class:`UsageError`."""
    path, class_name = split_reference(reference)
    if not path.is_file():
        raise UsageError(f"controller file {path} does not exist")
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read controller file {path}: {exc}") from None
    try:
        source = importlib.util.decode_source(raw)
    except (SyntaxError, UnicodeDecodeError, LookupError) as exc:
        raise CandidateRejected("load", f"{path}: cannot decode the source: {exc}") from None
    try:  # parsing runs none of the file's code: a syntax error is named here, with its line
        ast.parse(source, filename=str(path))
    except SyntaxError as exc:
        raise CandidateRejected(
            "load", f"{path}:{exc.lineno or 0}: syntax error: {exc.msg}"
        ) from None
    return CandidateFile(path, class_name, source, hashlib.sha256(raw).hexdigest())
