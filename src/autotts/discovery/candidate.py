"""Finding the candidate class in a proposed file, and pulling code out of LLM replies."""

from __future__ import annotations

import ast
import re

__all__ = ["extract_code", "find_class"]

_FENCE = re.compile(r"```[ \t]*(?:python|py)?[ \t]*\n(.*?)```", re.S | re.I)


def find_class(source: str, wanted: str | None = None) -> str:
    """The candidate class of ``source``: ``wanted`` if given, else the one class with
    a ``solve`` method (preferring one that names ``Controller`` as a base).

    Returns a name even when none is found (``wanted`` or ``"Candidate"``), so that
    the check phase reports the problem with its proper reason code.
    """
    if wanted:
        return wanted
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return "Candidate"
    solvers = [
        node
        for node in tree.body
        if isinstance(node, ast.ClassDef)
        and any(isinstance(f, ast.FunctionDef) and f.name == "solve" for f in node.body)
    ]
    native = [
        c for c in solvers if any(isinstance(b, ast.Name) and b.id == "Controller" for b in c.bases)
    ]
    chosen = native or solvers
    return chosen[-1].name if chosen else "Candidate"


def extract_code(reply: str) -> str | None:
    """The longest fenced Python block of a reply (None if there is none)."""
    blocks = [b.strip() + "\n" for b in _FENCE.findall(reply or "") if b.strip()]
    if not blocks:
        return None
    return str(max(blocks, key=len))
