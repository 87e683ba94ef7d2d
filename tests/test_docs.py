"""The documentation's examples run, and its commands name real commands and flags.

Convention: a fenced ```console or ```python block right after a line
``<!-- runnable -->`` is run, in order with the other runnable blocks of its page, in a
fresh folder holding a link to ``examples/``; ``../shared/data/replay`` in a command
means the public replay files (skipped where they are absent). A console block is one
shell command per line. Examples that need an API key, a model server or minutes of
CPU are left unmarked; their commands are still checked against the CLI below.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import typer

from autotts.cli.main import app
from tests.conftest import SHARED_REPLAY

ROOT = Path(__file__).resolve().parents[1]
PAGES = sorted([ROOT / "README.md", *(ROOT / "docs").glob("*.md")])
MARKER = "<!-- runnable -->"
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", flags=re.S | re.M)
#: One shell command may take this long; the examples are chosen to take a few seconds.
TIMEOUT = 120


def _rel(page: Path) -> str:
    return str(page.relative_to(ROOT))


def fenced_blocks(text: str) -> list[tuple[str, str, bool]]:
    """``(language, body, runnable)`` for every fenced block of a Markdown text."""
    blocks = []
    for match in FENCE.finditer(text):
        before = text[: match.start()].rstrip("\n").rsplit("\n", 1)[-1]
        blocks.append((match.group(1), match.group(2), before.strip() == MARKER))
    return blocks


def runnable_pages() -> list[Path]:
    return [p for p in PAGES if any(run for _, _, run in fenced_blocks(p.read_text("utf-8")))]


def test_the_convention_finds_examples() -> None:
    # A renamed marker would otherwise turn every example test into a silent no-op.
    assert len(runnable_pages()) >= 4
    assert fenced_blocks(f"x\n{MARKER}\n```console\nautotts guide\n```\n") == [
        ("console", "autotts guide\n", True)
    ]


@pytest.mark.parametrize("page", PAGES, ids=_rel)
def test_every_marker_precedes_a_runnable_block(page: Path) -> None:
    text = page.read_text("utf-8")
    marked = sum(1 for line in text.splitlines() if line.strip() == MARKER)
    blocks = fenced_blocks(text)
    assert marked == sum(1 for _, _, run in blocks if run), "a marker not followed by a fence"
    for language, _, run in blocks:
        if run:
            assert language in ("console", "python"), f"runnable block of kind {language!r}"


def _environment() -> dict[str, str]:
    env = dict(os.environ)
    # `autotts` and `python` are this interpreter's, as after `pip install -e .`.
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONHASHSEED"] = "0"
    env.pop("AUTOTTS_DATA", None)
    return env


@pytest.mark.parametrize("page", runnable_pages(), ids=_rel)
def test_runnable_examples(page: Path, tmp_path: Path) -> None:
    (tmp_path / "examples").symlink_to(ROOT / "examples")
    env = _environment()
    for language, body, run in fenced_blocks(page.read_text("utf-8")):
        if not run:
            continue
        if "../shared/data/replay" in body:
            if not SHARED_REPLAY.is_dir():
                pytest.skip(f"needs the public replay files in {SHARED_REPLAY}")
            body = body.replace("../shared/data/replay", str(SHARED_REPLAY))
        if language == "python":
            script = tmp_path / "example.py"
            script.write_text(body, encoding="utf-8")
            commands = [[sys.executable, str(script)]]
            shown = [body]
        else:
            shown = [line for line in body.splitlines() if line.strip()]
            commands = [["bash", "-c", line] for line in shown]
        for command, text in zip(commands, shown):
            done = subprocess.run(
                command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=TIMEOUT
            )
            assert done.returncode == 0, (
                f"{_rel(page)}: example failed (exit {done.returncode}):\n{text}\n"
                f"--- stdout\n{done.stdout[-2000:]}\n--- stderr\n{done.stderr[-2000:]}"
            )


# -- every `autotts ...` line of README.md and docs/ names a command and its flags ----


def _commands() -> list[tuple[str, str]]:
    found = []
    for page in PAGES:
        for language, body, _ in fenced_blocks(page.read_text("utf-8")):
            if language not in ("", "console", "text"):
                continue
            for raw in body.replace("\\\n", " ").splitlines():
                line = raw.split(" # ")[0].strip()
                for part in re.split(r"&&|\|", line):
                    part = part.strip()
                    if part.startswith("autotts "):
                        found.append((_rel(page), part))
    return found


def _resolve(words: list[str]) -> tuple[Any, list[str]]:
    # Typer vendors its own copy of click, so its objects are read by their attributes.
    command: Any = typer.main.get_command(app)
    rest = list(words)
    while hasattr(command, "commands") and rest and not rest[0].startswith("-"):
        sub = command.commands.get(rest[0])
        assert sub is not None, f"no command {rest[0]!r}; there are {sorted(command.commands)}"
        command, rest = sub, rest[1:]
    return command, rest


def test_the_docs_show_many_commands() -> None:
    assert len(_commands()) >= 60


@pytest.mark.parametrize(("page", "line"), _commands(), ids=lambda v: str(v)[:60])
def test_documented_command_exists(page: str, line: str) -> None:
    words = shlex.split(line)[1:]
    command, rest = _resolve(words)
    known = {opt for param in command.params for opt in (*param.opts, *param.secondary_opts)}
    flags = [w.split("=")[0] for w in rest if w.startswith("-") and w != "-" and w != "..."]
    unknown = [f for f in flags if f not in known]
    assert not unknown, f"{page}: {line!r}: {command.name} has no {unknown}"
