"""``\\boxed{}`` parsing, prompt templates and question files."""

from __future__ import annotations

from pathlib import Path

import pytest

from autotts.errors import UsageError
from autotts.live.answers import ERR, last_boxed, parse_answer
from autotts.live.prompts import TEMPLATES, render
from autotts.live.questions import load_questions


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("so \\boxed{42}.", "42"),
        ("\\boxed{\\frac{9\\sqrt{23}}{23}}", "\\frac{9\\sqrt{23}}{23}"),
        ("\\boxed{a} then \\boxed{ \\{1, 2\\} }", "\\{1, 2\\}"),
        ("\\boxed{1} and a cut-off \\boxed{\\frac{2", "1"),  # truncated box: last complete one
        ("\\boxed {7}", "7"),
        ("\\fbox{5}", "5"),
        ("\\boxed{}", ERR),  # an empty box is no answer, not the answer ""
        ("\\boxed{ }", ERR),
        ("no box here", ERR),
        ("\\boxed{", ERR),
        ("\\boxed{{{{x}}}}", "{{{x}}}"),
    ],
)
def test_parse_answer(text: str, expected: str) -> None:
    assert parse_answer(text) == expected


def test_last_boxed_none() -> None:
    assert last_boxed("nothing") is None
    assert last_boxed("\\boxed{}") == ""  # what tells an empty box from no box


def test_templates_keep_latex_braces() -> None:
    assert render("plain", "What is 1+1?").startswith("What is 1+1?")
    assert "\\boxed{}" in render("chatml", "q")
    assert render("Q: {question} A:", "x") == "Q: x A:"
    with pytest.raises(UsageError, match="question"):
        render("no placeholder", "x")
    assert set(TEMPLATES) == {"plain", "chatml"}


def test_questions_from_jsonl_csv_and_json(tmp_path: Path) -> None:
    (tmp_path / "q.jsonl").write_text('{"problem": "1+1?", "solution": 2}\n\n{"problem": "2+2?"}\n')
    items = load_questions(tmp_path / "q.jsonl", question_field="problem", answer_field="solution")
    assert [(i.text, i.gold) for i in items] == [("1+1?", "2"), ("2+2?", "")]
    (tmp_path / "q.csv").write_text('question,answer\n"3, then 4?",7\n')
    assert load_questions(tmp_path / "q.csv")[0].text == "3, then 4?"
    (tmp_path / "q.json").write_text('[{"question": "x", "gold_answer": "1"}]')
    assert load_questions(tmp_path / "q.json", answer_field="gold_answer")[0].gold == "1"


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("a.jsonl", '{"question": "ok"}\n{broken\n', "line 2"),
        ("b.jsonl", '{"text": "no question field"}\n', "no text in field 'question'"),
        ("c.txt", "whatever", ".jsonl, .csv or .json"),
        ("d.json", '{"question": "not a list"}', "list"),
        ("e.jsonl", "\n", "no questions"),
    ],
)
def test_bad_question_files_fail_in_one_line(
    tmp_path: Path, name: str, content: str, message: str
) -> None:
    (tmp_path / name).write_text(content)
    with pytest.raises(UsageError, match=message):
        load_questions(tmp_path / name)
