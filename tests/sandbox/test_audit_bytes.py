"""The audit reads exactly the text that runs, in process as in the sandbox."""

from __future__ import annotations

import os
import py_compile
import sys
from pathlib import Path

import pytest

from autotts.controllers.registry import load_controller_class
from autotts.errors import ControllerError
from autotts.sandbox import read_candidate

UTF7 = (
    "# coding: utf-7\n"
    "from autotts import Controller\n\n\n"
    "class Hidden(Controller):\n"
    "    def solve(self, session):\n"
    "        answer = None  # harmless+AAo-        answer = session._episode\n"
    "        return answer\n"
)


def test_audit_sees_code_hidden_by_a_coding_line(tmp_path: Path) -> None:
    path = tmp_path / "hidden.py"
    path.write_bytes(UTF7.encode("ascii"))
    findings = [str(f) for f in read_candidate(f"{path}:Hidden").audit()]
    assert any(f.startswith("line 8: access to private attribute '_episode'") for f in findings)
    # Untrusted, the file is never imported here, whatever the audit says.
    with pytest.raises(ControllerError, match="not trusted"):
        load_controller_class(f"{path}:Hidden")


def test_a_planted_pyc_is_never_executed(tmp_path: Path) -> None:
    path = tmp_path / "mine.py"
    path.write_text(
        "from autotts import Controller\n\nclass Mine(Controller):\n"
        "    def solve(self, session):\n        return None\n"
    )
    planted = tmp_path / "planted.py"
    evil = "raise SystemExit('the planted bytecode ran')\n"
    planted.write_text(evil + "#" * (path.stat().st_size - len(evil) - 1) + "\n")
    # Same size and time stamp as mine.py: the import system would take this bytecode for
    # mine.py's own cache and run it.
    os.utime(planted, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns))
    tag = sys.implementation.cache_tag
    py_compile.compile(str(planted), cfile=str(tmp_path / "__pycache__" / f"mine.{tag}.pyc"))
    assert load_controller_class(f"{path}:Mine", trusted=True).__name__ == "Mine"
