"""``autotts guide``: the controller-writing guide, from the installed package."""

from __future__ import annotations

from importlib.resources import files

import typer

GUIDE = "controller_api.md"


def register(app: typer.Typer) -> None:
    app.command("guide")(guide_command)


def guide_command() -> None:
    """Print the guide to writing a controller: the session API, the rules, the errors
    it may raise and how to debug it.

    The same text is src/autotts/controllers/controller_api.md in the repository.
    """
    text = files("autotts.controllers").joinpath(GUIDE).read_text(encoding="utf-8")
    typer.echo(text, nl=not text.endswith("\n"))
