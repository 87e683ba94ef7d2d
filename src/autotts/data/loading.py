"""Read upstream replay JSON into :class:`ReplaySet`, validating as it goes.

The upstream format (docs/replay-protocol.md §1) is a JSON list of question
objects. Every check here fails with a :class:`DataFormatError` that names the
file, the question and branch index, and what is wrong, so a malformed file
costs the user one line to diagnose, never a traceback.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from autotts.data.records import NO_ANSWER, ReplayQuestion, ReplaySet
from autotts.errors import DataFormatError

__all__ = ["CONFIDENCE_KEY", "confidence_of", "load_replay", "parse_replay"]

#: The optional per-question key with the probes' mean log-probabilities
#: (docs/replay-protocol.md §1); files without it load exactly as before.
CONFIDENCE_KEY = "probe_logprobs"

_REQUIRED_KEYS = ("question", "gold_answer", "probe_freq", "each_branch")
# Token counts live in int64 arrays and get summed over many episodes; anything
# near this bound is a corrupt file, not a long trajectory.
_MAX_TOKENS = 2**40


def load_replay(
    path: str | Path, *, model: str | None = None, benchmark: str | None = None
) -> ReplaySet:
    """Load and validate one replay file.

    ``model`` and ``benchmark`` default to the parent folder's name and the file
    stem, the layout of the public data (``<model>/<benchmark>.json``).
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise DataFormatError(str(path), "no such file") from None
    except IsADirectoryError:
        raise DataFormatError(str(path), "is a directory, expected a replay .json file") from None
    except OSError as exc:
        raise DataFormatError(str(path), f"cannot read: {exc.strerror or exc}") from None
    try:
        document = json.loads(raw)
    except UnicodeDecodeError as exc:
        raise DataFormatError(str(path), f"not UTF-8 text ({exc.reason})") from None
    except json.JSONDecodeError as exc:
        raise DataFormatError(
            str(path), f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
        ) from None
    except RecursionError:
        raise DataFormatError(str(path), "invalid JSON: nested too deeply") from None
    return parse_replay(
        document,
        source=str(path),
        sha256=hashlib.sha256(raw).hexdigest(),
        model=model if model is not None else path.parent.name,
        benchmark=benchmark if benchmark is not None else path.stem,
    )


def parse_replay(
    document: Any, *, source: str, sha256: str = "", model: str = "", benchmark: str = ""
) -> ReplaySet:
    """Validate an already-parsed replay document and intern it."""
    if not isinstance(document, list):
        raise DataFormatError(
            source, f"expected a JSON list of questions, got {_json_type(document)}"
        )
    if not document:
        raise DataFormatError(source, "the file holds no questions")
    questions: list[ReplayQuestion] = []
    gold: list[str] = []
    gold_ids: list[int] = []
    for q_index, item in enumerate(document):
        question, gold_answer = _parse_question(item, source, q_index)
        questions.append(question)
        gold.append(gold_answer)
        try:
            gold_ids.append(question.answers.index(gold_answer))
        except ValueError:
            gold_ids.append(NO_ANSWER)
    return ReplaySet(
        model=model,
        benchmark=benchmark,
        source=source,
        sha256=sha256,
        questions=tuple(questions),
        gold=tuple(gold),
        gold_ids=np.asarray(gold_ids, dtype=np.int64),
    )


def _parse_question(item: Any, source: str, q: int) -> tuple[ReplayQuestion, str]:
    def fail(problem: str, branch: int | None = None) -> DataFormatError:
        return DataFormatError(source, problem, question=q, branch=branch)

    if not isinstance(item, dict):
        raise fail(f"expected a question object, got {_json_type(item)}")
    missing = [key for key in _REQUIRED_KEYS if key not in item]
    if missing:
        raise fail(f"missing key{'s' if len(missing) > 1 else ''} {', '.join(map(repr, missing))}")
    text, gold_answer, probe_freq = item["question"], item["gold_answer"], item["probe_freq"]
    if not isinstance(text, str):
        raise fail(f"'question' must be a string, got {_json_type(text)}")
    if not isinstance(gold_answer, str):
        raise fail(f"'gold_answer' must be a string, got {_json_type(gold_answer)}")
    if not _is_int(probe_freq):
        raise fail(f"'probe_freq' must be an integer, got {_json_type(probe_freq)}")
    if probe_freq <= 0:
        raise fail(f"'probe_freq' must be positive, got {probe_freq}")
    if probe_freq > _MAX_TOKENS:
        raise fail(f"'probe_freq' is implausibly large ({probe_freq})")
    branches = item["each_branch"]
    if not isinstance(branches, list):
        raise fail(f"'each_branch' must be a list, got {_json_type(branches)}")
    if not branches:
        raise fail("'each_branch' is empty: a question needs at least one trajectory")
    trace = item.get("final_answers_trace")
    if trace is not None and not (
        isinstance(trace, list) and all(isinstance(a, str) for a in trace)
    ):
        raise fail("'final_answers_trace' must be a list of strings")

    unpacked = [_unpack_branch(branch, fail, b) for b, branch in enumerate(branches)]
    # Final answers get the lowest ids, so votes over final answers only need a
    # table as large as the number of distinct finals (see ReplayQuestion).
    vocab: dict[str, int] = {}
    intern = vocab.setdefault
    finals = [intern(final_answer, len(vocab)) for _, _, final_answer in unpacked]
    n_finals = len(vocab)
    rows = [
        [intern(a, len(vocab)) for a in probes] + [f] for (probes, _, _), f in zip(unpacked, finals)
    ]
    tokens = [branch_tokens for _, branch_tokens, _ in unpacked]

    width = max(len(row) for row in rows)
    steps = np.empty((len(rows), width), dtype=np.int64)
    for b, row in enumerate(rows):
        steps[b, : len(row)] = row
        steps[b, len(row) :] = row[-1]
    confidence = None
    if item.get(CONFIDENCE_KEY) is not None:
        lengths = [len(probes) for probes, _, _ in unpacked]
        confidence = _parse_confidence(item[CONFIDENCE_KEY], lengths, width, fail)
    question = ReplayQuestion(
        text=text,
        answers=tuple(vocab),
        steps=steps,
        n_probes=np.asarray([len(row) - 1 for row in rows], dtype=np.int64),
        final=np.asarray(finals, dtype=np.int64),
        tokens=np.asarray(tokens, dtype=np.int64),
        probe_freq=int(probe_freq),
        n_finals=n_finals,
        confidence=confidence,
    )
    return question, gold_answer


def confidence_of(mean_logprob: float | None) -> float | None:
    """A probe answer's confidence from its tokens' mean log-probability: ``exp`` of it
    (the one rule for replay files and live servers); ``None`` without a finite value. A
    live server's rounding may give a mean a hair above 0: that is a confidence of 1."""
    if mean_logprob is None or not math.isfinite(mean_logprob):
        return None
    return math.exp(min(mean_logprob, 0.0))


def _parse_confidence(
    raw: Any, lengths: list[int], width: int, fail: Any
) -> npt.NDArray[np.float64] | None:
    """The optional ``probe_logprobs`` of a question as a confidence array (see
    :class:`ReplayQuestion`): per branch one mean log-probability (a number <= 0) or
    null per probe, or null for a branch without any. ``None`` when no probe has one."""
    if not isinstance(raw, list) or len(raw) != len(lengths):
        shape = f"a list of {len(raw)}" if isinstance(raw, list) else _json_type(raw)
        raise fail(f"{CONFIDENCE_KEY!r} must be a list with one entry per branch, got {shape}")
    out = np.full((len(lengths), width), np.nan)
    for b, (row, n) in enumerate(zip(raw, lengths)):
        if row is None:
            continue
        if not isinstance(row, list) or len(row) != n:
            shape = f"a list of {len(row)}" if isinstance(row, list) else _json_type(row)
            raise fail(f"{CONFIDENCE_KEY} must list one value per probe ({n}), got {shape}", b)
        for k, value in enumerate(row):
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise fail(
                    f"{CONFIDENCE_KEY}[{k}] must be a number or null, got {_json_type(value)}", b
                )
            if not (math.isfinite(value) and value <= 0):
                raise fail(
                    f"{CONFIDENCE_KEY}[{k}] must be a log-probability (a finite number <= 0), "
                    f"got {value!r}",
                    b,
                )
            out[b, k] = confidence_of(value)
    return None if bool(np.isnan(out).all()) else out


def _unpack_branch(branch: Any, fail: Any, b: int) -> tuple[Sequence[str], int, str]:
    if not isinstance(branch, list) or len(branch) != 3:
        shape = f"a list of {len(branch)}" if isinstance(branch, list) else _json_type(branch)
        raise fail(f"expected [probe_list, branch_tokens, final_answer], got {shape}", b)
    probe_list, branch_tokens, final_answer = branch
    if not isinstance(probe_list, list):
        raise fail(f"probe_list must be a list of strings, got {_json_type(probe_list)}", b)
    for k, answer in enumerate(probe_list):
        if not isinstance(answer, str):
            raise fail(f"probe {k} must be a string, got {_json_type(answer)}", b)
    if not _is_int(branch_tokens):
        raise fail(f"branch_tokens must be an integer, got {_json_type(branch_tokens)}", b)
    if branch_tokens < 0:
        raise fail(f"branch_tokens must not be negative, got {branch_tokens}", b)
    if branch_tokens > _MAX_TOKENS:
        raise fail(f"branch_tokens is implausibly large ({branch_tokens})", b)
    if not isinstance(final_answer, str):
        raise fail(f"final_answer must be a string, got {_json_type(final_answer)}", b)
    return probe_list, branch_tokens, final_answer


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return f"a number ({value!r})"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__
