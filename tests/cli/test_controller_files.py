"""Controller files on the command line: class resolution and syntax errors (issue 5, defect 8)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from autotts.cli.main import main
from autotts.controllers.registry import ControllerSpec, build
from autotts.errors import CandidateRejected, ControllerError, UsageError
from tests.cli.test_bad_arguments import store  # noqa: F401 (fixture)

HEADER = "from autotts import Controller\n"


def _class(name: str, answer: str = "session.full_read()") -> str:
    return (
        f"class {name}(Controller):\n"
        "    def __init__(self, beta: float = 0.5):\n"
        "        self.beta = beta\n"
        "    def solve(self, session):\n"
        f"        return {answer}\n"
    )


def test_file_without_class_uses_its_single_controller(
    tmp_path: Path,
    store: Path,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = tmp_path / "one.py"
    path.write_text(HEADER + "import math\n" + _class("Only"))
    args = ["eval", "-c", str(path), "--json", "--seeds", "2", "--data", str(store)]
    assert main(args) == 0, capsys.readouterr().err
    result = json.loads(capsys.readouterr().out)
    assert result["controller"]["name"] == str(path)
    assert len(result["controller"]["source_sha256"]) == 64
    assert type(build(ControllerSpec(str(path), trusted=True))).__name__ == "Only"
    assert build(ControllerSpec(str(path))).class_name == "Only"  # in the sandbox


def test_file_with_several_classes_names_them(
    tmp_path: Path,
    store: Path,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = tmp_path / "two.py"
    path.write_text(HEADER + _class("Alpha") + _class("Beta"))
    assert main(["eval", "-c", str(path), "--data", str(store), "--trust"]) == 2
    line = capsys.readouterr().err.strip()
    assert line == (
        f"error: {path} has 2 controller classes (Alpha, Beta): "
        f"pick one with {path}:Alpha or {path}:Beta"
    )
    # Untrusted, the file is loaded in the sandbox, which names the classes too.
    assert main(["eval", "-c", str(path), "--data", str(store)]) == 2
    line = capsys.readouterr().err.strip()
    assert line.startswith("error: controller rejected (load): ")
    assert line.endswith(
        "FILE.py:Class (the file does not define exactly one controller class); "
        "controller classes found: 'Alpha, Beta'"
    )


def test_file_without_controller_class_says_so(tmp_path: Path) -> None:
    path = tmp_path / "none.py"
    path.write_text(HEADER + "X = 1\n")
    with pytest.raises(
        UsageError, match=r"defines no controller class \(an autotts\.Controller subclass"
    ):
        build(ControllerSpec(str(path), trusted=True))
    with pytest.raises(CandidateRejected, match=r"\(load\).*controller classes found: 'none'"):
        build(ControllerSpec(str(path)))


def test_syntax_error_is_reported_as_such_with_file_and_line(
    tmp_path: Path,
    store: Path,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = tmp_path / "broken.py"
    path.write_text(HEADER + _class("C", answer="(session.full_read()"))
    assert main(["eval", "-c", f"{path}:C", "--data", str(store)]) == 2
    line = capsys.readouterr().err.strip()
    assert f"{path}:6: syntax error: " in line
    assert "audit" not in line
    with pytest.raises(ControllerError, match="syntax error"):
        build(ControllerSpec(str(path), trusted=True))
