"""Finding the candidate class and the code block of a reply."""

from __future__ import annotations

import pytest

from autotts.discovery.candidate import extract_code, find_class

NATIVE_AND_HELPER = """
from autotts import Controller

class Helper:
    def solve(self, q):
        return None

class Mine(Controller):
    def solve(self, session):
        return None
"""

UPSTREAM = """
class Upstream:
    def __init__(self, config=None):
        self.config = config or {}

    def solve(self, question):
        return None
"""


@pytest.mark.parametrize(
    ("source", "wanted", "expected"),
    [
        (NATIVE_AND_HELPER, None, "Mine"),  # the Controller subclass wins
        (NATIVE_AND_HELPER, "Helper", "Helper"),  # --class decides
        (UPSTREAM, None, "Upstream"),
        ("def f(:\n", None, "Candidate"),  # syntax error: the check reports it
        ("x = 1\n", None, "Candidate"),
    ],
)
def test_find_class(source: str, wanted: str | None, expected: str) -> None:
    assert find_class(source, wanted) == expected


def test_extract_code_takes_the_longest_python_block() -> None:
    reply = "Summary.\n```python\nshort = 1\n```\ntext\n```py\nlonger = 1\nmore = 2\n```\n"
    assert extract_code(reply) == "longer = 1\nmore = 2\n"
    assert extract_code("```\nplain = 1\n```") == "plain = 1\n"
    assert extract_code("no code here") is None
    assert extract_code("") is None
