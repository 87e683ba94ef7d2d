"""A secret renaming of answer strings, so that knowing answers in advance does not help.

A sandboxed controller never sees the answer strings of a replay file as they are:
every answer of the file is replaced by a random label, drawn from a key that only
the evaluator holds (fresh for every process, see :func:`process_key`). Equal answers
get equal labels and different ones different labels, and the labels sort as the
answers do, so a controller that treats answers as labels — what the replay protocol
compares (plain string equality), with ties broken by first appearance or by sorting
— plays exactly as before. The evaluator maps the returned answer back before it
scores it; a string that is no label scores as wrong.

What this stops: a controller that carries the gold answers of a public benchmark in
its source, rebuilds them from a seeded generator (``--data synthetic``) or reads
them from a file cannot match them against what it sees: the gold ``"17"`` reaches
it as some other answer of the same file, different in every process. What it does
not stop: a controller that recognises a question by the *shape* of what it reads
(lengths, the pattern of equal answers) and carries a copy of that question's
trajectories; only data the controller's author has not seen rules that out.

``"ERR"`` (a probe with no parseable answer) is a format marker, not an answer: it
keeps its name, so controllers may skip it. A controller that parses answers sees
well-formed labels (integers, or LaTeX fractions for answers that sort after
``"ERR"``), but their values carry no information: it plays as it would on any
other answers, and no better. One whose decisions follow the *hash* order of answers
(iterating a ``set`` of them) can give other numbers from run to run, since the
labels differ.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import os
from collections.abc import Iterable
from typing import Any

import numpy as np

__all__ = ["IDENTITY", "KEPT_AS_IS", "AnswerRenaming", "process_key", "renaming_for"]

#: Strings that keep their names: markers of the data format, not answers.
KEPT_AS_IS = frozenset({"ERR"})

#: Integer labels start here (six digits and more): far from the short strings a
#: controller might make up as a fallback ("0", "1") and from competition answers (AIME's
#: are 0-999), which would otherwise be taken for the label of an answer never revealed.
LABEL_BASE = 100_000

#: How deep :meth:`AnswerRenaming.restore_all` follows nested lists and dicts of a trace
#: (deeper parts are kept as they are: traces are bounded by the pipe anyway).
_RESTORE_DEPTH = 12


class AnswerRenaming:
    """A bijection on a vocabulary of answer strings and its inverse."""

    __slots__ = ("_back", "_forward", "tag")

    def __init__(self, forward: dict[str, str], tag: str) -> None:
        self._forward = forward
        self._back = {label: answer for answer, label in forward.items()}
        #: names this renaming (a digest of the key and the file), never the key itself
        self.tag = tag

    @classmethod
    def identity(cls) -> AnswerRenaming:
        return cls({}, "identity")

    def rename(self, answer: str) -> str:
        """The label the controller sees for ``answer``."""
        return self._forward.get(answer, answer)

    def rename_all(self, answers: Iterable[str]) -> tuple[str, ...]:
        forward = self._forward
        return tuple(forward.get(a, a) for a in answers)

    def restore(self, label: Any) -> Any:
        """The real answer behind ``label``. A string that is no label (the controller
        made it up: it never read it) is marked so that it can never equal a gold
        answer, which may be missing from the file's vocabulary but known to an author."""
        if type(label) is not str or not self._forward or label in KEPT_AS_IS:
            return label  # not a string: the evaluator's checks reject it as it is
        real = self._back.get(label)
        return real if real is not None else f"<not a label: {label}>"

    def restore_all(self, value: Any, depth: int = 0) -> Any:
        """``value`` (a trace: lists, dicts, strings, numbers) with every label restored."""
        if not self._forward or depth > _RESTORE_DEPTH:
            return value
        if isinstance(value, str):
            return self._back.get(value, value)
        if isinstance(value, list):
            return [self.restore_all(v, depth + 1) for v in value]
        if isinstance(value, dict):
            return {
                (self._back.get(k, k) if isinstance(k, str) else k): self.restore_all(v, depth + 1)
                for k, v in value.items()
            }
        return value


@functools.lru_cache(maxsize=1)
def process_key() -> bytes:
    """This process's renaming and audit key: random, drawn at first use, never sent to
    a worker. Each evaluating process has its own; cells compared with each other (a
    cell and its audit, PyPy and its CPython sample) are evaluated in one process."""
    return os.urandom(32)


def renaming_for(vocabulary: Iterable[str], file_id: str, key: bytes) -> AnswerRenaming:
    """The renaming of a file (``file_id``: its SHA-256) whose answers are ``vocabulary``."""
    digest = hmac.new(key, f"rename:{file_id}".encode(), hashlib.sha256).digest()
    return _renaming(tuple(sorted(set(vocabulary) - KEPT_AS_IS)), digest)


@functools.lru_cache(maxsize=64)
def _renaming(answers: tuple[str, ...], digest: bytes) -> AnswerRenaming:
    """Random labels that sort as the answers do (``answers`` is sorted).

    Order is kept because controllers break vote ties by it (``np.unique``, ``sorted``,
    ``min``) and must play as they would on the real answers; ``"ERR"`` keeps its place
    among them. Answers that sort before ``"ERR"`` get integer labels from
    :data:`LABEL_BASE` on, those after it fractions in LaTeX.
    """
    rng = np.random.default_rng(int.from_bytes(digest[:16], "big"))
    low = [a for a in answers if a < "ERR"]
    labels = _sorted_labels(len(low), rng, lambda n: str(LABEL_BASE + n)) + _sorted_labels(
        len(answers) - len(low), rng, lambda n: f"\\frac{{{n % 97 + 1}}}{{{n // 97 + 2}}}"
    )
    return AnswerRenaming(dict(zip(answers, labels)), digest[16:24].hex())


def _sorted_labels(count: int, rng: np.random.Generator, form: Any) -> list[str]:
    """``count`` distinct strings ``form(n)`` for random ``n``, in string order."""
    labels: set[str] = set()
    span = max(1000, 20 * count)
    while len(labels) < count:
        labels.update(form(int(n)) for n in rng.integers(0, span, size=count - len(labels)))
    return sorted(labels)


#: The renaming that keeps every answer (results of runs that had none).
IDENTITY = AnswerRenaming.identity()
