"""Answers from model text: the last complete ``\\boxed{...}``, braces nested any depth.

``ERR`` is the upstream format's "no answer could be parsed".
"""

from __future__ import annotations

__all__ = ["ERR", "last_boxed", "parse_answer"]

ERR = "ERR"

_OPENERS = ("\\boxed", "\\fbox")


def last_boxed(text: str) -> str | None:
    """The content of the last complete ``\\boxed{...}`` in ``text`` (stripped), else ``None``.

    Braces inside the box may nest to any depth; an unterminated box (a
    truncated generation) is skipped in favour of the last complete one before it.
    """
    best: tuple[int, str] | None = None
    for opener in _OPENERS:
        start = text.rfind(opener)
        while start != -1:
            content = _braced(text, start + len(opener))
            if content is not None:
                if best is None or start > best[0]:
                    best = (start, content)
                break
            start = text.rfind(opener, 0, start)
    return None if best is None else best[1].strip()


def parse_answer(text: str) -> str:
    """:func:`last_boxed`, or :data:`ERR` when there is none or it is empty.

    An empty box (``\\boxed{}``) is no answer: stored as ``""`` it would vote as an
    answer of its own (every empty box agreeing with every other) and no replay file of
    the reference data holds ``""``; the replay format's one "no answer" is ``ERR``.
    Callers that need to tell the two apart use :func:`last_boxed` (``""`` vs ``None``).
    """
    found = last_boxed(text)
    return found if found else ERR


def _braced(text: str, at: int) -> str | None:
    """The content of the brace group opening at ``at`` (after spaces), or ``None``."""
    while at < len(text) and text[at] == " ":
        at += 1
    if at >= len(text) or text[at] != "{":
        return None
    depth = 0
    i = at
    while i < len(text):
        char = text[i]
        if char == "\\" and i + 1 < len(text) and text[i + 1] in "{}":
            i += 2  # an escaped brace, \{ or \}, neither opens nor closes a group
            continue
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth == 0:
                return text[at + 1 : i]
        i += 1
    return None
