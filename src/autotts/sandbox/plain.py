"""The worker's half of the payload, in plain Python: it runs where NumPy does not.

The sandbox's PyPy worker (:mod:`autotts.sandbox.pypy_boot`) has the standard
library and the pure-Python parts of autotts, nothing more, so what a lean
episode needs from a question and how its log travels back live here, apart
from :mod:`autotts.sandbox.payload`'s NumPy side (which the parent and the
CPython worker use). The wire format is the same for both interpreters.
"""

from __future__ import annotations

from typing import Any

__all__ = ["LOG_OFFSET", "PlainQuestion", "decode_order", "encode_log"]

#: An action log travels as a string, one character per action: code point ``action +
#: LOG_OFFSET`` (``FULL_READ`` is ".", ``PROBE_NEW`` "/", slot 0 "0", slot 1 "1", ...).
#: A JSON list of ints costs the parent about as much to parse as the rest of its
#: checking; a string is one copy, and decodes to an array in C.
LOG_OFFSET = 48


def encode_log(log: list[int]) -> str:
    """An action log as a string (see :data:`LOG_OFFSET`)."""
    return "".join([chr(action + LOG_OFFSET) for action in log])


def decode_order(text: str) -> list[int]:
    """An episode's branch order from the string a compact run request carries it as
    (:func:`~autotts.sandbox.payload.encode_orders`: slot ``i`` as ``chr(i + LOG_OFFSET)``).

    A JSON list of a cell's orders (3,000 lists of up to 64 ints) cost the parent more
    to write, and the worker more to read, than the strings do.
    """
    return [ord(c) - LOG_OFFSET for c in text]


class PlainQuestion:
    """What a :class:`~autotts.env.fast_session.FastSession` reads of a question, built
    from :func:`~autotts.sandbox.payload.encode_question`'s JSON without NumPy.

    The same attributes, with the same values, as a
    :class:`~autotts.data.records.ReplayQuestion` decoded from that JSON.
    """

    __slots__ = (
        "__weakref__",
        "answer_strings",
        "confidence_lists",
        "probe_count_list",
        "probe_freq",
        "token_list",
    )

    def __init__(self, data: dict[str, Any]) -> None:
        vocab = tuple(str(a) for a in data["answers"])
        n_probes = tuple(int(n) for n in data["n_probes"])
        steps = data["steps"]
        #: per branch, the answers of its successive reads (probes, then the final answer)
        self.answer_strings = tuple(
            tuple(vocab[a] for a in row[: n + 1]) for row, n in zip(steps, n_probes)
        )
        self.probe_count_list = n_probes
        self.token_list = tuple(int(t) for t in data["tokens"])
        self.probe_freq = int(data["probe_freq"])
        #: per branch, its probes' confidences (``None``: none); ``None`` without any
        confidences = data.get("confidence")
        self.confidence_lists: tuple[tuple[float | None, ...], ...] | None = (
            None
            if confidences is None
            else tuple(tuple(None if c is None else float(c) for c in row) for row in confidences)
        )

    @property
    def n_branches(self) -> int:
        return len(self.token_list)
