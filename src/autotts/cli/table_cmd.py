"""``autotts table``: the published comparison table, and its scaling-curve grid."""

from __future__ import annotations

import difflib
import re
from pathlib import Path

import typer

from autotts.cli.answers_opt import ANSWERS, with_answers
from autotts.cli.common import (
    all_cores,
    check_output_file,
    data_refs,
    dedupe,
    parse_betas,
    split_names,
    write_output,
)
from autotts.cli.eval_cmd import (
    _DATA,
    _QUIET,
    _TABLE_SEEDS,
    _WORKERS,
    _run_keeping_finished,
    interrupted_exit,
)
from autotts.cli.executor_opt import ADDRESS, EXECUTOR, executor_scope
from autotts.errors import UsageError
from autotts.evaluation.protocols import protocol_from_name
from autotts.evaluation.results import to_csv, to_json
from autotts.evaluation.table import DISCOVERED_METHODS, TABLE_METHODS, table_jobs, table_rows
from autotts.report.tables import render_rows


def register(app: typer.Typer) -> None:
    app.command("table")(table_command)


def _method_key(text: str) -> str:
    """What a method name is, whatever its case, spacing or spelling of β: "CMC beta=0.5",
    "cmc β=.5" and "CMC β=0.5" are one key, "cmcβ0.5"; "sc@64" and "SC 64" are "sc64"."""
    text = text.lower().replace("beta", "β")
    text = re.sub(r"\d*\.?\d+", lambda m: f"{float(m.group()):g}", text)
    return re.sub(r"[^a-z0-9β.]", "", text)


def method_label(text: str) -> str:
    """The table's label for ``text`` (see :func:`_method_key`); a :class:`UsageError`
    suggesting the closest labels, by that key, when there is none."""
    labels = [*TABLE_METHODS, *DISCOVERED_METHODS]
    by_key = {_method_key(label): label for label in labels}
    key = _method_key(text)
    if key in by_key:
        return by_key[key]
    close = difflib.get_close_matches(key, list(by_key), n=3, cutoff=0.5)
    hint = f"; did you mean {' or '.join(repr(by_key[c]) for c in close)}?" if close else ""
    raise UsageError(f"unknown table method {text!r}{hint} (known: {', '.join(labels)})")


def table_command(
    data: str | None = _DATA,
    models: list[str] | None = typer.Option(
        None, "--models", "-m", help="Only these models (repeatable or comma-separated)."
    ),
    benchmarks: list[str] | None = typer.Option(
        None, "--benchmarks", "-B", help="Only these benchmarks (repeatable or comma-separated)."
    ),
    methods: list[str] | None = typer.Option(
        None, "--methods", help=f"Only these rows, of: {', '.join(TABLE_METHODS)}."
    ),
    seeds: int = _TABLE_SEEDS,
    answers: str = ANSWERS,
    workers: int | None = _WORKERS,
    executor: str = EXECUTOR,
    address: str | None = ADDRESS,
    as_json: bool = typer.Option(
        False,
        "--json",
        help="JSON list of row objects, each with its provenance and per-question numbers.",
    ),
    as_markdown: bool = typer.Option(False, "--markdown", help="Markdown table."),
    as_csv: bool = typer.Option(
        False,
        "--csv",
        help="CSV with unabbreviated token counts and provenance columns (controller spec, "
        "data SHA-256, protocol).",
    ),
    out: Path | None = typer.Option(None, "--out", "-o", help="Write the output to a file."),
    quiet: bool = _QUIET,
    plot: Path | None = typer.Option(
        None,
        "--plot",
        help="Also draw the scaling-curve grid (models × benchmarks; every β-scheduled "
        "method swept over --plot-betas, the table's settings marked) to this .png/.svg/.pdf.",
    ),
    plot_betas: str = typer.Option(
        "0:1:0.25",
        "--plot-betas",
        help="β values of the curves in --plot (start:stop:step or list).",
    ),
    discovered: bool = typer.Option(
        False, "--discovered", help=f"Add the rows of: {', '.join(DISCOVERED_METHODS)}."
    ),
) -> None:
    """Reproduce the published comparison table on every model × benchmark of the store.

    Rows: SC@64, ASC, ESC, Parallel-Probe, CMC β=0.5 and CMC β=1.0, under the
    reference protocol (100 shuffle seeds, string-equality scoring; --answers
    equivalence merges mathematically equal answers for voting and scoring).

    Accuracy is in percent, rounded to 2 decimals as published (in every format);
    tokens and seq_tokens are average total tokens and average longest-branch tokens
    per question (in thousands in text and Markdown, unabbreviated in --json and --csv).
    Ctrl-C writes the rows that finished (--json: a list, empty if none finished) and
    exits with code 130.
    """
    if sum([as_json, as_markdown, as_csv]) > 1:
        raise UsageError("choose one of --json, --markdown and --csv")
    check_output_file(out, "--out")
    workers = all_cores(workers)
    chosen = dedupe([method_label(m) for m in split_names(methods)], "method")
    if discovered:
        chosen = (chosen or list(TABLE_METHODS)) + list(DISCOVERED_METHODS)
    refs = with_answers(data_refs(data, models, benchmarks), answers, workers)
    protocol = protocol_from_name("reference", seeds=seeds)
    jobs = table_jobs(refs, protocol, chosen or None)
    table_ids = {id(job) for job in jobs}
    if plot is not None:
        # the plot extra (matplotlib), only for --plot
        from autotts.evaluation.curves import curve_jobs
        from autotts.report.plots import check_figure_path

        check_figure_path(plot)
        jobs += curve_jobs(refs, protocol, parse_betas(plot_betas))
    with executor_scope(executor, address, workers) as where:
        jobs, results, interrupted = _run_keeping_finished(
            jobs,
            workers,
            "table",
            quiet,
            lambda job: f"{job.data.model}/{job.data.benchmark}",
            where,
        )
    if plot is not None and results:
        # the plot extra (matplotlib), only for --plot
        from autotts.report.grid import plot_table_grid

        shape = plot_table_grid(list(zip(jobs, results)), table_ids, plot, protocol.replicates)
        typer.echo(f"wrote {plot}: a {shape[0]} × {shape[1]} grid (models × benchmarks)", err=True)
    results = [r for job, r in zip(jobs, results) if id(job) in table_ids]
    rows = table_rows(results)
    if as_json:  # JSON rows carry the same provenance as CSV rows, as objects
        provenance = [
            {
                "controller": r.controller,
                "data_sha256": r.data["sha256"],
                "protocol": r.protocol,
                "per_question": [q.to_dict() for q in r.metrics.per_question],
            }
            for r in results
        ]
        write_output(to_json([{**row, **more} for row, more in zip(rows, provenance)]), out)
    elif as_csv:  # CSV rows also carry what is needed to re-run them
        extra = [r.provenance_columns() for r in results]
        write_output(to_csv([{**row, **more} for row, more in zip(rows, extra)]), out)
    else:
        write_output(render_rows(rows, "markdown" if as_markdown else "text"), out)
    if interrupted:
        raise interrupted_exit()
