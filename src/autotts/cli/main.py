"""The ``autotts`` command: thin wrappers over the library.

Every error a user can cause surfaces as one line on stderr and exit code 2;
Ctrl-C exits with 130 after whatever was finished has been written.
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import typer

import autotts
from autotts.cli.common import InterruptedAfterOutput
from autotts.errors import AutoTTSError
from autotts.version import __version__

_PACKAGE = str(Path(autotts.__file__).parent)
_python_format = warnings.formatwarning


def _one_line_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    line: str | None = None,
) -> str:
    """autotts's own warnings (seccomp missing, PyPy disagreeing with CPython) as one line,
    as its errors are, not Python's ``file:line: Category`` form with a source line;
    other packages' warnings as Python shows them. Set at import, so the pool processes
    (which import this module again) show them the same way."""
    if filename.startswith(_PACKAGE):
        return f"warning: {message}\n"
    return _python_format(message, category, filename, lineno, line)


warnings.formatwarning = _one_line_warning

app = typer.Typer(
    name="autotts",
    help=(
        "Discover and evaluate test-time-scaling controllers on replayed reasoning "
        "trajectories. Start with 'autotts table --data synthetic' or a short search, "
        "'autotts discover --out run --data synthetic --candidates examples/candidates'; "
        "fetch the public replay files with 'autotts data download'; 'autotts guide' "
        "explains how to write a controller."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"autotts {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """autotts command line."""


def _register() -> None:
    # Imported here so that `autotts --help` stays fast and the modules stay independent.
    from autotts.cli import (
        ablate_cmd,
        check_cmd,
        compare_cmd,
        data_cmd,
        discover_cmd,
        eval_cmd,
        explain_cmd,
        guide_cmd,
        live_cmd,
        optimize_cmd,
        policy_cmd,
        table_cmd,
    )

    app.add_typer(data_cmd.app, name="data")
    eval_cmd.register(app)
    table_cmd.register(app)
    compare_cmd.register(app)
    check_cmd.register(app)
    discover_cmd.register(app)
    explain_cmd.register(app)
    guide_cmd.register(app)
    live_cmd.register(app)
    optimize_cmd.register(app)
    ablate_cmd.register(app)
    policy_cmd.register(app)


_register()


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the process exit code."""
    try:
        # Without standalone mode the framework returns exit codes instead of exiting
        # (130 for Ctrl-C, the code of typer.Exit), and raises usage errors to us.
        code = app(args=argv, standalone_mode=False)
    except AutoTTSError as exc:
        typer.echo(f"error: {exc}", err=True)
        return 2
    except InterruptedAfterOutput:  # the command has said what it wrote
        return 130
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        return 130
    except typer.Exit as exc:
        return int(exc.exit_code or 0)
    except typer.Abort:
        typer.echo("aborted", err=True)
        return 130
    except typer.TyperException as exc:  # usage errors found by the CLI framework itself
        show = getattr(exc, "show", None)
        if callable(show):
            show()
        else:
            typer.echo(f"error: {exc.format_message()}", err=True)
        return exc.exit_code if exc.exit_code else 2
    if code == 130:
        typer.echo("interrupted", err=True)
    return code if isinstance(code, int) else 0


if __name__ == "__main__":
    sys.exit(main())
