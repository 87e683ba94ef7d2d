"""``autotts check``: run a controller file through the sandboxed acceptance pipeline."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from autotts.checking import DEFAULT_SEEDS, MONOTONE_TOLERANCE
from autotts.checking.lookahead import AUDITED_CELLS
from autotts.cli.common import DATA_HELP, data_refs, parse_betas
from autotts.cli.executor_opt import ADDRESS, EXECUTOR, executor_scope
from autotts.errors import UsageError
from autotts.sandbox import split_reference
from autotts.sandbox.layers import describe_layers
from autotts.scale.remote_check import check_here_or_on_ray

__all__ = ["CHECK_HELP", "check_command", "register"]


CHECK_HELP = (
    "Check a controller file in the sandbox; exit 0 accepted, 1 rejected, 2 usage error.\n\n"
    "In order: it loads; it is a controller whose __init__ takes β and nothing else; on "
    "every data file and β of the grid (plus 3 random β between), solve() returns a str or "
    "None within the limits, with a legal action log; it is deterministic; it passes the "
    f"look-ahead audit ({AUDITED_CELLS} cells, spread over the files, replayed in fresh "
    "processes on data in which everything it did not pay to see is replaced); mean tokens do "
    "not fall as β grows, "
    f"per file ({MONOTONE_TOLERANCE:.0%} below the running maximum at most).\n\n"
    "Rejection reasons: load, interface, crash, bad-return, timeout, memory, forbidden, "
    "peeking, cheating, nondeterministic, non-monotone.\n\n"
    "Example: autotts check examples/first_agreement.py --data synthetic"
)


def register(app: typer.Typer) -> None:
    app.command("check", help=CHECK_HELP)(check_command)


def check_command(
    reference: str = typer.Argument(
        ...,
        metavar="FILE.py[:Class]",
        help="The controller file, and its class when the file defines more than one.",
    ),
    data: str | None = typer.Option(None, "--data", "-d", help=DATA_HELP),
    model: str | None = typer.Option(
        None, "--model", "-m", help="Model folder(s) to check on (default: the store's first)."
    ),
    benchmark: str | None = typer.Option(
        None, "--benchmark", "-B", help="Benchmark file(s) (default: every one of the model)."
    ),
    betas: str = typer.Option(
        "0:1:0.05", "--betas", help="β grid of the monotonicity check (start:stop:step or a list)."
    ),
    seeds: int = typer.Option(
        DEFAULT_SEEDS, "--seeds", min=1, help="Reference-protocol shuffle seeds per file and β."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the full report as JSON."),
    executor: str = EXECUTOR,
    address: str | None = ADDRESS,
) -> None:
    """Check a controller file in the sandbox (see CHECK_HELP)."""
    path, _ = split_reference(reference)
    if not path.is_file():
        raise UsageError(f"controller file {path} does not exist")
    refs = data_refs(data, [model] if model else None, [benchmark] if benchmark else None)
    if model is None:
        refs = [r for r in refs if r.model == refs[0].model]
    # the whole check is one Ray task on the cluster (its steps are not streamed back)
    with executor_scope(executor, address, 1, num_cpus=1) as chosen:
        if chosen is not None and not as_json:
            typer.echo(f"checking {reference} on Ray …", err=True)
        report = check_here_or_on_ray(
            reference,
            refs,
            chosen,
            betas=parse_betas(betas),
            seeds=seeds,
            progress=None if as_json else lambda message: typer.echo(message, err=True),
        )
    if as_json:
        typer.echo(json.dumps(report.to_dict(), indent=2, ensure_ascii=False))
    else:
        head = "ACCEPTED" if report.accepted else f"REJECTED ({report.reason})"
        typer.echo(f"{head}: {Path(path).name} — {report.detail}")
        for check in report.checks:
            mark = "ok  " if check["passed"] else "FAIL"
            typer.echo(f"  {mark} {check['name']}: {check['detail']}")
        for line in report.advice:
            typer.echo(f"  advice (static audit, not decisive): {line}")
        typer.echo(f"  sandbox layers: {', '.join(report.sandbox_layers) or 'none'}")
        for line in describe_layers(report.sandbox_layers):
            typer.echo(f"    {line}")
    raise typer.Exit(0 if report.accepted else 1)
