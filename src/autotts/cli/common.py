"""Helpers shared by the commands: data resolution, argument parsing, progress, output.

Short flags have one meaning across the whole CLI (a test walks every command to
keep it so): ``-c`` controller, ``-b`` β, ``-p`` parameter, ``-d`` data store,
``-m`` model(s), ``-B`` benchmark(s), ``-o`` output file or folder, ``-w`` worker
processes, ``-q`` quiet, ``-n`` questions, ``-s`` seed, ``-h`` help. Any other
option is long only (``data download --dest``, ``data synth --branches``).
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from autotts.atomic import write_atomic
from autotts.data.refs import data_refs, split_names
from autotts.errors import UsageError

__all__ = [
    "DATA_HELP",
    "WORKERS",
    "InterruptedAfterOutput",
    "all_cores",
    "check_output_dir",
    "check_output_file",
    "data_refs",
    "dedupe",
    "parse_betas",
    "parse_params",
    "progress_bar",
    "split_names",
    "write_output",
]

DATA_HELP = (
    "Replay store: a folder of <model>/<benchmark>.json files, or 'synthetic' for the "
    "built-in synthetic set. Default: $AUTOTTS_DATA, else the 'autotts data download' "
    "destination."
)

stderr = Console(stderr=True)

#: ``--workers`` of the commands that run many jobs: default every core this process may
#: use (a 2-core machine left one idle with the old default of 1)
WORKERS = typer.Option(
    None,
    "--workers",
    "-w",
    min=1,
    help="Worker processes. Default: every core this process may use; -w lowers it.",
)


class InterruptedAfterOutput(Exception):
    """Ctrl-C, after which the command wrote what finished and said so on stderr: the
    entry point exits with 130 and adds no second "interrupted" line. Not a
    KeyboardInterrupt, which the CLI framework would turn into its own abort."""


def all_cores(workers: int | None) -> int:
    """``workers`` when given, else the cores this process may run on (its CPU affinity,
    which a container or ``taskset`` may set below ``os.cpu_count()``)."""
    if workers is not None:
        return workers
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def dedupe(values: Sequence[Any], what: str, show: Any = repr) -> list[Any]:
    """``values`` without repeats, in order; says on stderr which ones were dropped."""
    kept: list[Any] = []
    for value in values:
        if value in kept:
            typer.echo(f"note: duplicate {what} {show(value)} is evaluated once", err=True)
        else:
            kept.append(value)
    return kept


def _first_existing(path: Path) -> Path:
    for candidate in (path, *path.parents):
        if candidate.exists():
            return candidate
    return Path(".")


def check_output_file(path: Path | None, option: str) -> None:
    """Refuse, before any work, an output file that cannot be written.

    A folder, a path below a file, or a folder we may not write to would otherwise
    fail only after the evaluation, with a traceback and the results lost.
    """
    if path is None:
        return
    if path.is_dir():
        raise UsageError(f"{option} {path} is a folder; give a file name")
    check_output_dir(path.parent, option, shown=path)


def check_output_dir(folder: Path, option: str, shown: Path | None = None) -> None:
    """Refuse a folder to write into that is a file, lies below a file, or is read-only."""
    shown = shown or folder
    existing = _first_existing(folder)
    if not existing.is_dir():
        raise UsageError(f"{option} {shown}: {existing} is a file, not a folder")
    try:  # the one reliable test (root, read-only mounts): make a file there and drop it
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as exc:
        raise UsageError(f"{option} {shown}: cannot write to {existing}: {exc.strerror}") from None


def parse_betas(text: str) -> list[float]:
    """``start:stop:step`` (inclusive) or a comma-separated list, every value in [0, 1]."""
    try:
        if ":" in text:
            start, stop, step = (float(x) for x in text.split(":"))
        else:
            values = [float(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise UsageError(
            f"--betas expects start:stop:step (e.g. 0:1:0.1) or a list (0,0.5,1), got {text!r}"
        ) from None
    if ":" in text:
        if step <= 0:
            raise UsageError(f"--betas step must be positive, got {step:g}")
        count = round((stop - start) / step) + 1
        values = [round(start + i * step, 10) for i in range(max(count, 0))]
    if not values:
        raise UsageError(f"--betas {text!r} gives no values")
    bad = [v for v in values if not 0.0 <= v <= 1.0]
    if bad:
        raise UsageError(f"--betas values must lie in [0, 1], got {bad[0]:g}")
    return values


def parse_params(items: Sequence[str] | None) -> dict[str, Any]:
    """``key=value`` pairs; values are read as JSON when they can be (numbers, booleans)."""
    params: dict[str, Any] = {}
    for item in items or []:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"--param expects key=value, got {item!r}")
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        params[key.strip()] = value
    return params


def _no_progress(description: str = "", completed: int | None = None) -> None:
    """The progress callback when there is no bar: same signature as the real one."""


@contextmanager
def progress_bar(total: int, label: str, enabled: bool = True) -> Iterator[Any]:
    """A progress bar on stderr; yields ``advance(description)``."""
    if not enabled or total <= 1:
        yield _no_progress
        return
    columns = (
        TextColumn("{task.description}", markup=False),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=stderr, transient=True) as progress:
        task = progress.add_task(label, total=total)

        def advance(description: str = "", completed: int | None = None) -> None:
            description = f"{label} {description}".strip()
            if completed is None:
                progress.update(task, advance=1, description=description)
            else:
                progress.update(task, completed=completed, description=description)

        yield advance


def write_output(text: str, out: Path | None) -> None:
    """Print ``text``, or write it atomically to ``out`` (never a half-written file)."""
    if out is None:
        sys.stdout.write(text)
        return
    try:
        write_atomic(out, text.encode("utf-8"))
    except OSError as exc:  # checked up front; this is a race or a full disk
        raise UsageError(f"cannot write {out}: {exc.strerror or exc}") from None
    typer.echo(f"wrote {out}", err=True)
