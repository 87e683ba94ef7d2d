"""Naming a controller file: ``path.py`` or ``path.py:Class``.

Its own module, below both the registry and the sandbox's reading of a file, which
both need it (the registry builds a sandboxed controller from a file; the sandbox
reads the file a registry name points at).
"""

from __future__ import annotations

from pathlib import Path

from autotts.errors import UsageError

__all__ = ["split_reference"]


def split_reference(reference: str) -> tuple[Path, str | None]:
    """``path.py:Class`` -> ``(path.py, "Class")``; ``path.py`` -> ``(path.py, None)``."""
    if reference.endswith(".py"):
        return Path(reference), None
    path_text, _, class_name = reference.rpartition(":")
    if not path_text or not class_name:
        raise UsageError(
            f"expected a controller as path/to/file.py or path/to/file.py:ClassName, "
            f"got {reference!r}"
        )
    return Path(path_text), class_name
