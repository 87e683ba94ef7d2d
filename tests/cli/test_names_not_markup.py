"""Names the user chose (folders, files, models) reach the terminal as they are.

The CLI draws tables and progress bars with Rich, which reads ``[...]`` as markup:
``[v2]`` vanished and a folder such as ``x[/y]`` (a closing tag) ended the command
with a ``MarkupError`` traceback. Both tests failed before the names were passed as
plain text.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from rich.console import Console

from autotts.cli import common
from autotts.cli.main import main

ODD = "x[/y]"  # Rich would read "[/y]" as a closing tag
STYLED = "runs[v2]"  # ... and "[v2]" as a style


def test_data_info_shows_a_folder_named_like_markup(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = tmp_path / STYLED / ODD
    assert main(["data", "synth", "--out", str(store), "--questions", "2"]) == 0
    capsys.readouterr()
    assert main(["data", "info", str(store)]) == 0
    out = capsys.readouterr().out
    assert f"{STYLED}/{ODD}" in out  # the table's title: the folder as given
    assert "Synth-Large/aime24" in out


def test_progress_bar_shows_a_description_named_like_markup(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    screen = io.StringIO()
    # A terminal, so the bar is drawn (as `sweep` draws it on a user's screen).
    monkeypatch.setattr(common, "stderr", Console(file=screen, force_terminal=True, width=200))
    with common.progress_bar(2, "sweep") as advance:
        advance(f"{STYLED}/{ODD}/c.py β=0")
        advance(f"{STYLED}/{ODD}/c.py β=1")
    assert f"sweep {STYLED}/{ODD}/c.py β=1" in screen.getvalue()
