"""Help text reaches the user as written: square brackets are markup to the help
renderer, so an unescaped ``autotts[ray]`` was shown as ``autotts`` (a pip command
that installs the package without the extra it names)."""

from __future__ import annotations

import re
from typing import Any

import pytest
import typer.main
from typer.testing import CliRunner

from autotts.cli.main import app

#: ``[word]`` (a pip extra, say): what the renderer would take for a style tag
BRACKETED = re.compile(r"\\?\[[A-Za-z][\w-]*\]")


def _commands() -> list[tuple[list[str], Any]]:
    out: list[tuple[list[str], Any]] = []

    def walk(path: list[str], command: Any) -> None:
        out.append((path, command))
        # (duck-typed: Typer may bring its own copy of Click)
        for name, sub in getattr(command, "commands", {}).items():
            walk([*path, name], sub)

    walk([], typer.main.get_command(app))
    return out


def _bracketed(command: Any) -> set[str]:
    texts = [command.help or ""] + [getattr(p, "help", None) or "" for p in command.params]
    # An escaped bracket (``\[ray]``) is shown without its backslash.
    return {m.group().lstrip("\\") for text in texts for m in BRACKETED.finditer(text)}


COMMANDS = [(path, cmd) for path, cmd in _commands() if _bracketed(cmd)]


def test_some_help_text_has_bracketed_words() -> None:
    # The check below would pass vacuously if no help text had any.
    assert any("[ray]" in words for _, cmd in COMMANDS for words in _bracketed(cmd))


@pytest.mark.parametrize(
    ("path", "command"), COMMANDS, ids=[" ".join(p) or "autotts" for p, _ in COMMANDS]
)
def test_bracketed_words_survive_in_help(path: list[str], command: Any) -> None:
    result = CliRunner().invoke(app, [*path, "--help"], env={"COLUMNS": "400"})
    assert result.exit_code == 0, result.output
    shown = " ".join(result.output.split())
    for word in _bracketed(command):
        assert word in shown, f"{' '.join(path)} --help lost {word!r}"
