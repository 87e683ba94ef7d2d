"""``--interpreter``: what runs a controller file's untraced cells in the sandbox."""

from __future__ import annotations

import typer

__all__ = ["INTERPRETER"]

INTERPRETER = typer.Option(
    "auto",
    "--interpreter",
    help="What runs a controller file (not the built-ins) in the sandbox: cpython, pypy "
    "(pypy3 on PATH: its JIT runs a file's own code several times faster), or auto (the "
    "default: pypy when pypy3 is on PATH, else cpython). On pypy the "
    "first seed of every β and data file runs on CPython too and must give the same "
    "numbers; a file "
    "PyPy cannot run (e.g. one that imports NumPy) or that disagrees runs on CPython "
    "instead, and traced runs always do. Same sandbox, same checks.",
)
