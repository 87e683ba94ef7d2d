"""Questions to collect, from JSONL, CSV or a JSON list, with configurable field names."""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from autotts.errors import UsageError

__all__ = ["QuestionItem", "load_questions"]


@dataclass(frozen=True)
class QuestionItem:
    text: str
    #: the reference answer ("" when the file has none)
    gold: str


def load_questions(
    path: str | Path, *, question_field: str = "question", answer_field: str = "answer"
) -> list[QuestionItem]:
    """Read questions; ``.jsonl`` (one object a line), ``.csv`` (a header row) or ``.json``
    (a list of objects, e.g. a replay file with ``--answer-field gold_answer``).

    Every record needs ``question_field``; ``answer_field`` is optional per record
    (values that are not strings, such as numbers, are turned into text).
    """
    path = Path(path)
    if not path.is_file():
        raise UsageError(f"questions file {path} does not exist")
    suffix = path.suffix.lower()
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read {path}: {exc}") from None
    records: list[tuple[int, Any]]
    if suffix == ".csv":
        records = list(enumerate(csv.DictReader(text.splitlines()), start=2))
    elif suffix == ".jsonl":
        records = []
        for number, line in enumerate(text.splitlines(), start=1):
            if line.strip():
                records.append((number, _json(line, path, number)))
    elif suffix == ".json":
        document = _json(text, path, None)
        if not isinstance(document, list):
            raise UsageError(f"{path}: expected a JSON list of question objects")
        records = list(enumerate(document, start=1))
    else:
        raise UsageError(f"{path}: questions must be a .jsonl, .csv or .json file")
    items = []
    for where, record in records:
        label = f"{path}: {'line' if suffix != '.json' else 'item'} {where}"
        if not isinstance(record, dict):
            raise UsageError(f"{label}: expected an object")
        question = record.get(question_field)
        if not isinstance(question, str) or not question.strip():
            raise UsageError(f"{label}: no text in field {question_field!r}")
        gold = record.get(answer_field)
        items.append(QuestionItem(question, "" if gold is None else str(gold)))
    if not items:
        raise UsageError(f"{path} holds no questions")
    return items


def _json(text: str, path: Path, line: int | None) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        where = f"line {line}" if line is not None else f"line {exc.lineno}"
        raise UsageError(f"{path}: invalid JSON at {where}: {exc.msg}") from None
