"""Gold-free episode data as plain JSON, sent from the evaluator to a worker.

A question travels as its interned form (vocabulary, per-branch reads, lengths):
exactly what a :class:`~autotts.env.episode.Episode` needs, and nothing a replay
file holds beyond it — no gold answer, no question text.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from autotts.data.records import ReplayQuestion
from autotts.sandbox.plain import LOG_OFFSET, encode_log
from autotts.sandbox.renaming import AnswerRenaming

__all__ = [
    "LOG_OFFSET",
    "decode_log",
    "decode_question",
    "encode_log",
    "encode_orders",
    "encode_question",
]


def encode_question(
    question: ReplayQuestion, renaming: AnswerRenaming | None = None
) -> dict[str, Any]:
    """The parts of ``question`` an episode reads, as JSON-ready lists; its answers under
    ``renaming`` when given (:mod:`autotts.sandbox.renaming`)."""
    answers = question.answers if renaming is None else renaming.rename_all(question.answers)
    out: dict[str, Any] = {
        "answers": list(answers),
        "steps": question.steps.tolist(),
        "n_probes": question.n_probes.tolist(),
        "final": question.final.tolist(),
        "tokens": question.tokens.tolist(),
        "probe_freq": int(question.probe_freq),
        "n_finals": int(question.n_finals),
    }
    # Only for data with confidences: the public files' payloads stay byte for byte as
    # they were. Per branch, its probes' values (null: none), as the sessions read them.
    confidences = question.confidence_lists
    if confidences is not None:
        out["confidence"] = [list(row) for row in confidences]
    return out


def decode_question(data: dict[str, Any]) -> ReplayQuestion:
    """Inverse of :func:`encode_question` (the text is empty: episodes never read it)."""
    steps = np.asarray(data["steps"], dtype=np.int64).reshape(len(data["final"]), -1)
    return ReplayQuestion(
        text="",
        answers=tuple(str(a) for a in data["answers"]),
        steps=steps,
        n_probes=np.asarray(data["n_probes"], dtype=np.int64),
        final=np.asarray(data["final"], dtype=np.int64),
        tokens=np.asarray(data["tokens"], dtype=np.int64),
        probe_freq=int(data["probe_freq"]),
        n_finals=int(data["n_finals"]),
        confidence=_decode_confidence(data.get("confidence"), steps.shape),
    )


def _decode_confidence(
    rows: list[list[float | None]] | None, shape: tuple[int, ...]
) -> npt.NDArray[np.float64] | None:
    """The confidence array of :class:`ReplayQuestion` (shaped as its ``steps``) from the
    per-branch lists :func:`encode_question` sends."""
    if rows is None:
        return None
    out = np.full(shape, np.nan)
    for b, row in enumerate(rows):
        for k, value in enumerate(row):
            if value is not None:
                out[b, k] = float(value)
    return out


def decode_log(text: str) -> npt.NDArray[np.int64]:
    """Inverse of :func:`encode_log`; ValueError for a string no log encodes to (from an
    untrusted worker: e.g. a lone surrogate, which no action code is)."""
    try:
        raw = text.encode("utf-32-le")
    except UnicodeEncodeError:
        raise ValueError("not an encoded action log") from None
    return np.frombuffer(raw, dtype="<u4").astype(np.int64) - LOG_OFFSET


def encode_orders(orders: npt.NDArray[np.int64]) -> list[str]:
    """Each row of ``orders`` (branch indices) as the string
    :func:`~autotts.sandbox.plain.decode_order` reads, one character per branch."""
    rows, width = orders.shape
    text = (orders + LOG_OFFSET).astype("<u4").tobytes().decode("utf-32-le")
    return [text[r * width : (r + 1) * width] for r in range(rows)]
