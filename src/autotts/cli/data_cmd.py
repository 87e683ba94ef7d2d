"""``autotts data``: fetch, synthesise and inspect replay data."""

from __future__ import annotations

import typer

app = typer.Typer(help="Fetch, synthesise and inspect replay data.", no_args_is_help=True)
