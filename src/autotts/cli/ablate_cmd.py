"""``autotts ablate CONTROLLER``: what each part of a composed controller contributes."""

from __future__ import annotations

import math
from dataclasses import fields
from pathlib import Path
from typing import Any

import typer

from autotts.cli.common import DATA_HELP, parse_betas, split_names
from autotts.controllers.composable import Knobs, PartsController
from autotts.controllers.composable.builtins import COMPOSED_BUILTINS
from autotts.controllers.composable.plain import PART_NAMES
from autotts.controllers.registry import REGISTRY, ControllerSpec, build, is_file_reference
from autotts.data.refs import data_refs
from autotts.errors import UsageError
from autotts.evaluation.jobs import load_data

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    app.command("ablate")(ablate_command)


def _schedule(name: str, betas: list[float], trust: bool) -> Any:
    """β → Knobs of a composed controller: a composed built-in, a registered or file class.

    A controller file gives its knobs through ``params()`` (a composed controller's are
    its β and every :class:`Knobs` field), computed at each β of the grid in a sandboxed
    worker (in this process with ``trust``); the ablation itself replays those knobs
    with the composed parts of this package, so the file's own code runs nowhere else.
    """
    registered = REGISTRY[name].cls if name in REGISTRY else None
    if registered is not None and issubclass(registered, PartsController):
        parts = registered
        return lambda beta: parts(beta).knobs
    if name in COMPOSED_BUILTINS:
        return COMPOSED_BUILTINS[name]
    if not is_file_reference(name):
        composable = sorted(set(COMPOSED_BUILTINS) | {
            n for n, r in REGISTRY.items() if issubclass(r.cls, PartsController)})  # fmt: skip
        raise UsageError(f"{name!r} is not a composed controller; try one of: "
                         f"{', '.join(composable)} or FILE.py:Class")  # fmt: skip
    if trust:
        params = {b: build(ControllerSpec(name, b, trusted=True)).params() for b in betas}
    else:
        # start-up time: `autotts --help` imports every command module; the sandbox's parent side
        # loads with the command that runs a file
        from autotts.sandbox.candidate import read_candidate
        from autotts.sandbox.live_client import ControllerPool

        pool = ControllerPool(read_candidate(name), keep=1)
        try:
            params = {b: pool.build(b) for b in betas}
        finally:
            pool.close()
    table = {b: knobs_from_params(p, name) for b, p in params.items()}

    def knobs_at(beta: float) -> Any:
        if beta not in table:
            raise UsageError(f"{name}: β={beta:g} is not on the --betas grid")
        return table[beta]

    return knobs_at


def knobs_from_params(params: dict[str, Any], name: str) -> Any:
    """The :class:`Knobs` a composed controller's ``params()`` hold, every value checked
    (a part among the known ones, a count a small non-negative integer, a finite number):
    they come from the file's code, so nothing else of them is used."""
    values: dict[str, Any] = {}
    for field in fields(Knobs):
        if field.name not in params:
            raise UsageError(
                f"{name}: not a composed controller (a PartsController subclass): its "
                f"params() have no {field.name!r}"
            )
        value, default = params[field.name], getattr(Knobs, field.name)
        # the controller's own list of parts: a copy here once fell behind it (give_up, confidence)
        if field.name in PART_NAMES:
            ok = value in PART_NAMES[field.name]
        elif isinstance(default, int):
            ok = type(value) is int and 0 <= value <= 100_000
        else:
            ok = type(value) in (int, float) and math.isfinite(value) and abs(value) <= 1e6
        if not ok:
            raise UsageError(f"{name}: setting {field.name}={value!r} is not a valid value")
        values[field.name] = float(value) if isinstance(default, float) else value
    return Knobs(**values)


def ablate_command(
    controller: str = typer.Argument(
        ..., help="cmc, sc, asc, esc, parallel-probe, a composed built-in or FILE.py:Class."
    ),
    data: str | None = typer.Option(None, "--data", "-d", help=DATA_HELP),
    models: list[str] | None = typer.Option(None, "--models", help="Models (default: all four)."),
    search_benchmarks: list[str] | None = typer.Option(
        None, "--search-benchmarks", help="Search set (default: aime24)."
    ),
    heldout_benchmarks: list[str] | None = typer.Option(
        None, "--heldout-benchmarks", help="Held-out set (default: aime25, hmmt25)."
    ),
    betas: str = typer.Option("0:1:0.1", "--betas", help="β grid (must hold 0.5 and 1)."),
    seeds: int = typer.Option(100, "--seeds", min=1, help="Reference-protocol shuffle seeds."),
    markdown: bool = typer.Option(False, "--markdown", help="Markdown table."),
    plot: Path | None = typer.Option(None, "--plot", help="Curves per set (.png/.pdf/.svg)."),
    trust: bool = typer.Option(
        False,
        "--trust",
        help="Build a controller file in this process, outside the sandbox: for code you "
        "wrote yourself. Without it, the file's knobs are read in a sandboxed worker.",
    ),
) -> None:
    """Switch each part of a composed controller back to a neutral default in turn and
    report what it contributes to the frontier, on the search and held-out sets.

    Example: autotts ablate cmc --markdown --plot ablate.png
    """
    # start-up time: `autotts --help` imports every command module; the ablation's modules load with
    # this command
    from autotts.discovery.optimizer.ablation import ablate
    from autotts.discovery.settings import split_refs

    grid = parse_betas(betas)
    if 0.5 not in grid or 1.0 not in grid:
        raise UsageError("--betas must contain 0.5 and 1 (the budgets parts are judged at)")
    knobs_at = _schedule(controller, grid, trust)
    search, held = split_refs(
        data_refs(data),
        split_names(models) or None,
        split_names(search_benchmarks) or None,
        split_names(heldout_benchmarks) or None,
    )
    sets = {"search": [load_data(r) for r in search]}
    if held:
        sets["held-out"] = [load_data(r) for r in held]

    def progress(set_name: str, label: str) -> None:
        typer.echo(f"ablate · {set_name:<8s} {label}", err=True)

    rows, curves = ablate(knobs_at, sets, betas=grid, seeds=seeds, progress=progress)
    typer.echo(_render(rows, markdown), nl=False)
    if plot is not None:
        # the plot extra (matplotlib), only for --plot
        from autotts.report.plots import plot_curves

        for set_name, per_variant in curves.items():
            out = plot if len(curves) == 1 else plot.with_stem(f"{plot.stem}-{set_name}")
            plot_curves(per_variant, out, title=f"{controller}: ablation ({set_name})")
            typer.echo(f"wrote {out}", err=True)


def _render(rows: list[dict[str, Any]], markdown: bool) -> str:
    def cell(value: Any) -> str:
        if value is None:
            return "–"
        if isinstance(value, float):
            return f"{value / 1000:.1f}k" if value > 1000 else f"{value:+.2f}" if value < 0 else (
                f"{value:.2f}")  # fmt: skip
        return str(value)

    columns = list(rows[0])
    body = [[cell(r[c]) for c in columns] for r in rows]
    if markdown:
        lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
        return "\n".join(lines + ["| " + " | ".join(b) + " |" for b in body]) + "\n"
    widths = [max(len(c), *(len(b[i]) for b in body)) for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths))]
    lines += ["  ".join(v.rjust(w) for v, w in zip(b, widths)) for b in body]
    return "\n".join(lines) + "\n"
