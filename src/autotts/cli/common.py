"""Helpers shared by the commands: data resolution, argument parsing, progress, output."""

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

from autotts.data.catalog import SYNTHETIC, list_store, resolve_data_dir
from autotts.errors import UnknownName, UsageError
from autotts.evaluation.jobs import DataRef

__all__ = [
    "DATA_HELP",
    "data_refs",
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


def split_names(values: Sequence[str] | None) -> list[str]:
    """Accept repeated options and comma-separated lists alike."""
    names: list[str] = []
    for value in values or []:
        names += [v.strip() for v in value.split(",") if v.strip()]
    return names


def data_refs(
    data: str | None,
    models: Sequence[str] | None = None,
    benchmarks: Sequence[str] | None = None,
) -> list[DataRef]:
    """The replay files of a store, filtered by model and benchmark names."""
    if data == SYNTHETIC:
        from autotts.data.synthetic import synthetic_replay_sets

        available = [(r.model, r.benchmark) for r in synthetic_replay_sets()]
        store = SYNTHETIC
    else:
        path = resolve_data_dir(data)
        available = [(f.model, f.benchmark) for f in list_store(path)]
        store = str(path)
        if not available:
            raise UsageError(
                f"no replay files (<model>/<benchmark>.json) in {path}; run 'autotts data "
                f"download' or pass '--data {SYNTHETIC}'"
            )
    wanted_models = split_names(models)
    wanted_benchmarks = split_names(benchmarks)
    for name in wanted_models:
        if name not in {m for m, _ in available}:
            raise UnknownName("model", name, {m for m, _ in available})
    for name in wanted_benchmarks:
        if name not in {b for _, b in available}:
            raise UnknownName("benchmark", name, {b for _, b in available})
    return [
        DataRef(store, m, b)
        for m, b in available
        if (not wanted_models or m in wanted_models)
        and (not wanted_benchmarks or b in wanted_benchmarks)
    ]


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


@contextmanager
def progress_bar(total: int, label: str, enabled: bool = True) -> Iterator[Any]:
    """A progress bar on stderr; yields ``advance(description)``."""
    if not enabled or total <= 1:
        yield lambda description="", completed=None: None
        return
    columns = (
        TextColumn("{task.description}"),
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
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    typer.echo(f"wrote {out}", err=True)
