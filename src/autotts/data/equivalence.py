"""Equivalence-aware answers: merge a replay set's answers that are mathematically equal.

The reference protocol compares answers as plain strings, so ``\\frac{9\\sqrt{23}}{23}``
and ``\\frac{9 \\sqrt{23}}{23}`` are different answers, both when a controller
votes and when it is scored. :func:`canonicalise` returns a :class:`ReplaySet` in
which every class of equivalent answers is one answer: each answer id is
remapped to its class's smallest id (so final answers keep the lowest ids) and
the gold answer is replaced by its class's representative string. Scoring *and*
voting of every controller — vectorised kernels included — then treat
equivalent answers as one, with no controller change.

Equivalence is decided with math-verify (sympy underneath): each distinct string
is parsed once into a *key* — the exact value for integers, the value to 12
significant digits for other numbers, sympy's printed form otherwise — and
answers with equal keys are merged, a merge by rounded value only after
``math_verify.verify`` confirms it. ``ERR`` never merges. math-verify's own
time-outs use ``signal.alarm``, which fails off the main thread, so they are
disabled and time is bounded at process level instead: the classes are computed
in worker processes, where each answer's key gets :data:`KEY_SECONDS` (an alarm
on the worker's main thread; past it the answer is compared as text), and the
workers are killed if a file takes longer than ``timeout`` seconds. Results are cached per
file SHA-256 under ``$XDG_CACHE_HOME/autotts/equivalence`` (``~/.cache/...``).
"""

from __future__ import annotations

import contextlib
import itertools
import json
import logging
import multiprocessing
import os
import re
import signal
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from autotts.atomic import write_atomic
from autotts.data.records import NO_ANSWER, ReplayQuestion, ReplaySet
from autotts.errors import UsageError
from autotts.extras import needs

__all__ = [
    "ANSWER_MODES",
    "answer_classes",
    "cache_dir",
    "canonicalise",
    "equivalence_classes",
    "prepare",
]

#: ``--answers`` values: the reference protocol's string equality, or math equivalence.
ANSWER_MODES = ("string", "equivalence")

_CACHE_VERSION = 3
_INTEGER = re.compile(r"[+-]?\d+")


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "autotts" / "equivalence"


def canonicalise(replay: ReplaySet, *, timeout: float = 900.0) -> ReplaySet:
    """``replay`` with equivalent answers merged (see the module docstring)."""
    classes = equivalence_classes(replay, timeout=timeout)
    questions: list[ReplayQuestion] = []
    gold: list[str] = []
    gold_ids: list[int] = []
    for question, gold_answer, mapping in zip(replay.questions, replay.gold, classes):
        table = np.asarray(mapping[:-1], dtype=np.int64)
        questions.append(
            replace(question, steps=table[question.steps], final=table[question.final])
        )
        gold_class = mapping[-1]  # the gold answer's class, -1 if none of the answers
        if gold_class == NO_ANSWER:
            gold.append(gold_answer)
            gold_ids.append(NO_ANSWER)
        else:
            gold.append(question.answers[gold_class])
            gold_ids.append(gold_class)
    return replace(
        replay,
        questions=tuple(questions),
        gold=tuple(gold),
        gold_ids=np.asarray(gold_ids, dtype=np.int64),
        answers="equivalence",
    )


def equivalence_classes(replay: ReplaySet, *, timeout: float = 900.0) -> list[list[int]]:
    """Per question: the class (smallest equivalent id) of each answer, then of the gold
    answer (``-1`` when it matches no answer). Cached per file; computed in a child process."""
    cached = _cached(replay)
    if cached is not None:
        return cached
    prepare([replay], timeout=timeout)
    found = _cached(replay)
    assert found is not None
    return found


def prepare(
    replays: Sequence[ReplaySet],
    *,
    workers: int = 1,
    timeout: float = 900.0,
    progress: Callable[[int, int], None] | None = None,
) -> None:
    """Compute and cache the classes of every replay set not cached yet, with ``workers``
    child processes; they are killed if it takes longer than ``timeout`` seconds per file.
    ``progress(done, total)`` is called as questions finish."""
    todo = [r for r in replays if _cached(r) is None]
    if not todo:
        return
    texts = [_texts(r) for r in todo]
    flat = [question for per_file in texts for question in per_file]
    deadline = time.monotonic() + timeout * len(todo)
    classes: list[list[int]] = []
    ends = list(itertools.accumulate(len(per_file) for per_file in texts))
    context = multiprocessing.get_context("spawn")
    with context.Pool(max(1, workers), initializer=_quiet) as pool:
        results = pool.imap(answer_classes, flat)
        try:
            for _ in flat:
                classes.append(results.next(max(0.0, deadline - time.monotonic())))
                if progress is not None:
                    progress(len(classes), len(flat))
                if len(classes) in ends:  # a file is complete: cache it at once
                    f = ends.index(len(classes))
                    _store(todo[f], texts[f], classes[len(classes) - len(texts[f]) :])
        except multiprocessing.TimeoutError:
            pool.terminate()
            names = ", ".join(r.name for r in todo)
            raise UsageError(
                f"answer equivalence for {names} did not finish within {timeout:g} s per file"
            ) from None


def _store(replay: ReplaySet, texts: list[list[str]], classes: list[list[int]]) -> None:
    document = {"version": _CACHE_VERSION, "texts": texts, "classes": classes}
    if replay.sha256:
        _write_atomic(cache_dir() / f"{replay.sha256}.json", json.dumps(document))
    _MEMORY[id(replay)] = (replay, classes)


#: Classes of replay sets without a SHA-256 (built in memory), by object identity.
_MEMORY: dict[int, tuple[ReplaySet, list[list[int]]]] = {}


def _texts(replay: ReplaySet) -> list[list[str]]:
    return [[*q.answers, g] for q, g in zip(replay.questions, replay.gold)]


def _cached(replay: ReplaySet) -> list[list[int]] | None:
    held = _MEMORY.get(id(replay))
    if held is not None and held[0] is replay:
        return held[1]
    if not replay.sha256:
        return None
    path = cache_dir() / f"{replay.sha256}.json"
    if not path.is_file():
        return None
    try:
        cached = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None  # a damaged cache entry is recomputed
    if cached.get("version") != _CACHE_VERSION or cached.get("texts") != _texts(replay):
        return None
    return [list(map(int, row)) for row in cached["classes"]]


def _quiet() -> None:
    # math-verify warns on every call that its (signal-based) time-outs are off.
    logging.getLogger("math_verify").setLevel(logging.ERROR)


def answer_classes(texts: Sequence[str]) -> list[int]:
    """For answers ``texts[:-1]`` and a gold ``texts[-1]``: each one's class as the smallest
    equivalent index among the answers (the gold's: ``-1`` if it matches none)."""
    answers = len(texts) - 1
    reps: dict[tuple[str, str], list[int]] = {}
    out: list[int] = []
    for i, text in enumerate(texts):
        key = _key(text)
        chosen = -1 if i == answers else i
        if key is not None:
            for rep in reps.get(key, []):
                if key[0] != "float" or _verified(texts[rep], text):
                    chosen = rep
                    break
            else:
                if i < answers:
                    reps.setdefault(key, []).append(i)
        elif i == answers and text in texts[:answers]:
            chosen = texts.index(text)
        out.append(chosen)
    return out


@cache
def _key(text: str) -> tuple[str, str] | None:
    """What equivalent answers share; ``None`` for ``ERR`` or an empty answer.

    An answer whose parsing or evaluation takes longer than :data:`KEY_SECONDS` (sympy
    can spend unbounded time on towers like ``2^{2^{100}}``) keeps its text as its
    key: it then equals only answers written the same way.
    """
    stripped = text.strip()
    if stripped in ("", "ERR"):
        return None
    if _INTEGER.fullmatch(stripped):
        return ("int", str(int(stripped)))
    as_text = ("text", " ".join(stripped.split()))
    try:
        with _time_limit(KEY_SECONDS):
            return _math_key(stripped) or as_text
    except _KeyTimeout:
        return as_text


#: Seconds one answer's key may take (enforced in the worker processes' main thread).
KEY_SECONDS = 5


class _KeyTimeout(Exception):
    pass


@contextlib.contextmanager
def _time_limit(seconds: int) -> Iterator[None]:
    """Raise :class:`_KeyTimeout` after ``seconds``; only on a process's main thread (where
    the worker processes run keys), a no-op elsewhere (alarms work only there)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def expire(signum: int, frame: Any) -> None:
        raise _KeyTimeout

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def _math_key(stripped: str) -> tuple[str, str] | None:
    expr = _parsed(stripped)
    if expr is None:
        return None
    try:
        if getattr(expr, "is_number", False):
            if expr.is_integer:
                return ("int", str(int(expr)))
            value = complex(expr.evalf(30))
            if value.imag == 0 and value.real.is_integer() and abs(value.real) < 2**53:
                return ("int", str(int(value.real)))  # "2.0" is 2
            return ("float", f"{value.real:.12g}{value.imag:+.12g}j")
    except (TypeError, ValueError, OverflowError, ArithmeticError, AttributeError):
        pass
    return ("expr", str(expr))


@cache
def _parsed(text: str) -> Any:
    with needs("live", "--answers equivalence"):
        from math_verify import parse

    try:
        found = parse(f"\\boxed{{{text}}}", parsing_timeout=None)
    except Exception:
        return None
    return found[0] if found else None


def _verified(a: str, b: str) -> bool:
    with needs("live", "--answers equivalence"):
        from math_verify import parse, verify

    try:
        with _time_limit(KEY_SECONDS):
            return bool(
                verify(
                    parse(f"\\boxed{{{a}}}", parsing_timeout=None),
                    parse(f"\\boxed{{{b}}}", parsing_timeout=None),
                    timeout_seconds=None,
                )
            )
    except (Exception, _KeyTimeout):
        return False


def _write_atomic(path: Path, text: str) -> None:
    write_atomic(path, text.encode("utf-8"))
