"""``autotts eval``, ``sweep``, ``table`` and ``controllers``."""

from __future__ import annotations

import inspect
import json
from pathlib import Path
from typing import Any

import typer

from autotts.cli.common import (
    DATA_HELP,
    data_refs,
    parse_betas,
    parse_params,
    progress_bar,
    split_names,
    write_output,
)
from autotts.controllers.registry import REGISTRY, ControllerSpec, build
from autotts.errors import UsageError
from autotts.evaluation.jobs import EvalJob, JobsInterrupted, evaluate, load_data, run_jobs
from autotts.evaluation.protocols import EvaluationProtocol, protocol_from_name
from autotts.evaluation.results import EvalResult, to_csv, to_json
from autotts.evaluation.runner import EpisodeRecord
from autotts.evaluation.table import DISCOVERED_METHODS, TABLE_METHODS, table_jobs, table_rows
from autotts.report.tables import format_tokens, render_rows

CONTROLLER_HELP = (
    "Controller: a registered name (see 'autotts controllers') or path/to/file.py:ClassName "
    "(a subclass of autotts.Controller whose __init__ takes beta)."
)

# Options shared by eval and sweep (typer reads them from the signatures).
_PROTOCOL = typer.Option(
    "reference",
    "--protocol",
    help="'reference' (the published 100-seed shuffle protocol) or 'subsample' "
    "(random sub-pools of --size branches, --draws times, from --seed).",
)
_SEEDS = typer.Option(100, "--seeds", min=1, help="reference: number of shuffle seeds (0..N-1).")
_DRAWS = typer.Option(20, "--draws", min=2, help="subsample: number of random sub-pools.")
_SIZE = typer.Option(64, "--size", min=1, help="subsample: branches per sub-pool.")
_SEED = typer.Option(0, "--seed", help="subsample: seed of the sub-pool draws.")
_DATA = typer.Option(None, "--data", "-d", help=DATA_HELP)
_MODEL = typer.Option(None, "--model", "-m", help="Model folder in the store (default: the first).")
_BENCHMARK = typer.Option(
    None, "--benchmark", "-B", help="Benchmark file in the store (default: aime24)."
)
_WORKERS = typer.Option(1, "--workers", "-w", min=1, help="Worker processes.")
_QUIET = typer.Option(False, "--quiet", "-q", help="No progress bar.")
_TRUST = typer.Option(
    False,
    "--trust",
    help="Run a controller file without the source audit (only for code you wrote yourself).",
)


def _protocol(name: str, seeds: int, draws: int, size: int, seed: int) -> EvaluationProtocol:
    return protocol_from_name(name, seeds=seeds, draws=draws, size=size, seed=seed)


def _one_ref(data: str | None, model: str | None, benchmark: str | None) -> Any:
    refs = data_refs(data, [model] if model else None, [benchmark] if benchmark else None)
    if model is None:
        refs = [r for r in refs if r.model == refs[0].model]
    if benchmark is None and len(refs) > 1:
        search = [r for r in refs if r.benchmark == "aime24"]
        refs = search or refs[:1]
    return refs[0]


def register(app: typer.Typer) -> None:
    app.command("eval")(eval_command)
    app.command("sweep")(sweep_command)
    app.command("table")(table_command)
    app.command("controllers")(controllers_command)


def eval_command(
    controller: str = typer.Option(..., "--controller", "-c", help=CONTROLLER_HELP),
    beta: float | None = typer.Option(
        None, "--beta", "-b", help="β in [0, 1]: the controller's single budget knob."
    ),
    param: list[str] | None = typer.Option(
        None, "--param", "-p", help="Explicit parameter key=value (repeatable); not with --beta."
    ),
    data: str | None = _DATA,
    model: str | None = _MODEL,
    benchmark: str | None = _BENCHMARK,
    protocol: str = _PROTOCOL,
    seeds: int = _SEEDS,
    draws: int = _DRAWS,
    size: int = _SIZE,
    seed: int = _SEED,
    as_json: bool = typer.Option(False, "--json", help="Print the full result as JSON."),
    as_csv: bool = typer.Option(False, "--csv", help="Print one CSV row (with provenance)."),
    out: Path | None = typer.Option(None, "--out", "-o", help="Write the output to a file."),
    trust: bool = _TRUST,
    quiet: bool = _QUIET,
    traces: Path | None = typer.Option(
        None,
        "--traces",
        help="Write one JSON line per episode with its execution trace (slower: the "
        "controller runs episode by episode). Lines are flushed as episodes finish.",
    ),
) -> None:
    """Evaluate one controller on one replay file.

    Example: autotts eval --data synthetic --controller cmc --beta 0.5
    """
    if as_json and as_csv:
        raise UsageError("choose one of --json and --csv")
    ref = _one_ref(data, model, benchmark)
    spec = ControllerSpec(controller, beta, parse_params(param), trusted=trust)
    job = EvalJob(ref, spec, _protocol(protocol, seeds, draws, size, seed))
    total = job.protocol.replicates * len(load_data(ref))
    with progress_bar(total, "episodes", not quiet) as advance:
        track = lambda done, _total: advance(completed=done)  # noqa: E731
        if traces is None:
            result = evaluate(job, progress=track)
        else:
            result = _evaluate_with_traces(job, traces, track)
    if as_json:
        write_output(to_json(result.to_dict()), out)
    elif as_csv:
        m = result.metrics
        row = {
            "model": ref.model,
            "benchmark": ref.benchmark,
            "accuracy": m.accuracy,
            "accuracy_ci95_low": m.accuracy_ci95[0],
            "accuracy_ci95_high": m.accuracy_ci95[1],
            "tokens": m.tokens,
            "seq_tokens": m.seq_tokens,
            **result.provenance_columns(),
        }
        write_output(to_csv([row]), out)
    else:
        write_output(_describe(result), out)


def _evaluate_with_traces(job: EvalJob, path: Path, progress: Any) -> EvalResult:
    path.parent.mkdir(parents=True, exist_ok=True)
    label = job.spec.to_dict()
    with path.open("w", encoding="utf-8") as handle:

        def sink(replicate: int, question: int, record: EpisodeRecord) -> None:
            row = {
                "model": job.data.model,
                "benchmark": job.data.benchmark,
                "controller": label,
                "replicate": replicate,
                "question_index": question,
                "answer": record.answer,
                "is_correct": record.correct,
                "cost": record.cost,
                "sequential_cost": record.sequential_cost,
                "trace": record.trace,
            }
            handle.write(json.dumps(row, ensure_ascii=False, default=str) + "\n")
            handle.flush()

        result = evaluate(job, trace_sink=sink, progress=progress)
    typer.echo(f"wrote traces to {path}", err=True)
    return result


def _describe(result: EvalResult) -> str:
    m = result.metrics
    params = ", ".join(f"{k}={v}" for k, v in result.params.items())
    proto = result.protocol["name"]
    lo, hi = m.accuracy_ci95
    return (
        f"{result.data['model']}/{result.data['benchmark']}  {result.label}\n"
        f"  params      {params}\n"
        f"  protocol    {proto} ({m.replicates} replicates × {m.questions} questions)\n"
        f"  accuracy    {m.accuracy:.2f} %  (95% CI {lo:.2f}–{hi:.2f})\n"
        f"  tokens      {format_tokens(m.tokens)} per question (total)\n"
        f"  seq tokens  {format_tokens(m.seq_tokens)} per question (longest branch)\n"
    )


def sweep_command(
    controller: list[str] = typer.Option(
        ..., "--controller", "-c", help=CONTROLLER_HELP + " Repeat for several curves."
    ),
    betas: str = typer.Option(
        "0:1:0.1", "--betas", help="β values: start:stop:step (inclusive) or a list 0,0.5,1."
    ),
    data: str | None = _DATA,
    model: str | None = _MODEL,
    benchmark: str | None = _BENCHMARK,
    protocol: str = _PROTOCOL,
    seeds: int = _SEEDS,
    draws: int = _DRAWS,
    size: int = _SIZE,
    seed: int = _SEED,
    plot: Path | None = typer.Option(
        None,
        "--plot",
        help="Write accuracy vs tokens (log x), one line per controller (.png/.svg/.pdf).",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print every result as JSON."),
    as_csv: bool = typer.Option(False, "--csv", help="Print rows as CSV."),
    out: Path | None = typer.Option(None, "--out", "-o", help="Write the output to a file."),
    workers: int = _WORKERS,
    quiet: bool = _QUIET,
    trust: bool = _TRUST,
) -> None:
    """Trace accuracy-vs-tokens curves by sweeping β.

    Example: autotts sweep --data synthetic -c sc -c cmc --betas 0:1:0.25 --plot curve.png
    """
    if as_json and as_csv:
        raise UsageError("choose one of --json and --csv")
    ref = _one_ref(data, model, benchmark)
    values = parse_betas(betas)
    proto = _protocol(protocol, seeds, draws, size, seed)
    names = split_names(controller)
    for name in names:  # fail before any work on a bad name or file
        build(ControllerSpec(name, values[0], trusted=trust))
    jobs = [
        EvalJob(ref, ControllerSpec(name, b, trusted=trust), proto, label=_short(name))
        for name in names
        for b in values
    ]
    jobs, results, interrupted = _run_keeping_finished(
        jobs, workers, "sweep", quiet, lambda job: job.spec.label()
    )
    rows = [
        {
            "controller": job.label,
            "beta": job.spec.beta,
            "accuracy": r.metrics.accuracy,
            "tokens": r.metrics.tokens,
            "seq_tokens": r.metrics.seq_tokens,
        }
        for job, r in zip(jobs, results)
    ]
    if plot is not None:
        from autotts.report.plots import plot_curves

        curves: dict[str, list[tuple[float, float]]] = {}
        for job, r in zip(jobs, results):
            curves.setdefault(job.label, []).append((r.metrics.tokens, r.metrics.accuracy))
        plot_curves(curves, plot, title=f"{ref.model} / {ref.benchmark}")
        typer.echo(f"wrote {plot}", err=True)
    if as_json:
        write_output(to_json([r.to_dict() for r in results]), out)
    elif as_csv:  # CSV rows carry what is needed to re-run them
        extra = [
            {"model": ref.model, "benchmark": ref.benchmark, **r.provenance_columns()}
            for r in results
        ]
        write_output(to_csv([{**row, **more} for row, more in zip(rows, extra)]), out)
    else:
        write_output(render_rows(rows), out)
    if interrupted:
        raise KeyboardInterrupt


def _short(name: str) -> str:
    """``path/to/file.py:Class`` -> ``Class``; registry names unchanged."""
    return name.rsplit(":", 1)[-1] if ":" in name else name


def table_command(
    data: str | None = _DATA,
    models: list[str] | None = typer.Option(
        None, "--models", help="Only these models (repeatable or comma-separated)."
    ),
    benchmarks: list[str] | None = typer.Option(
        None, "--benchmarks", help="Only these benchmarks (repeatable or comma-separated)."
    ),
    methods: list[str] | None = typer.Option(
        None, "--methods", help=f"Only these rows, of: {', '.join(TABLE_METHODS)}."
    ),
    seeds: int = _SEEDS,
    workers: int = _WORKERS,
    as_json: bool = typer.Option(False, "--json", help="JSON list of row objects."),
    as_markdown: bool = typer.Option(False, "--markdown", help="Markdown table."),
    as_csv: bool = typer.Option(False, "--csv", help="CSV with raw numbers."),
    out: Path | None = typer.Option(None, "--out", "-o", help="Write the output to a file."),
    quiet: bool = _QUIET,
    discovered: bool = typer.Option(
        False, "--discovered", help=f"Add the rows of: {', '.join(DISCOVERED_METHODS)}."
    ),
) -> None:
    """Reproduce the published comparison table on every model × benchmark of the store.

    Rows: SC@64, ASC, ESC, Parallel-Probe, CMC β=0.5 and CMC β=1.0, under the
    reference protocol (100 shuffle seeds, string-equality scoring).

    Accuracy is in percent (2 decimals); tokens and seq_tokens are average total
    tokens and average longest-branch tokens per question.
    """
    if sum([as_json, as_markdown, as_csv]) > 1:
        raise UsageError("choose one of --json, --markdown and --csv")
    chosen = split_names(methods)
    for label in chosen:
        if label not in TABLE_METHODS and label not in DISCOVERED_METHODS:
            from autotts.errors import UnknownName

            raise UnknownName("table method", label, {**TABLE_METHODS, **DISCOVERED_METHODS})
    if discovered:
        chosen = (chosen or list(TABLE_METHODS)) + list(DISCOVERED_METHODS)
    refs = data_refs(data, models, benchmarks)
    jobs = table_jobs(refs, protocol_from_name("reference", seeds=seeds), chosen or None)
    jobs, results, interrupted = _run_keeping_finished(
        jobs, workers, "table", quiet, lambda job: f"{job.data.model}/{job.data.benchmark}"
    )
    rows = table_rows(results)
    if as_json:
        write_output(to_json(rows), out)
    elif as_csv:  # CSV rows also carry what is needed to re-run them
        extra = [r.provenance_columns() for r in results]
        write_output(to_csv([{**row, **more} for row, more in zip(rows, extra)]), out)
    else:
        write_output(render_rows(rows, "markdown" if as_markdown else "text"), out)
    if interrupted:
        raise KeyboardInterrupt


def _run_keeping_finished(
    jobs: list[EvalJob], workers: int, label: str, quiet: bool, describe: Any
) -> tuple[list[EvalJob], list[EvalResult], bool]:
    """Run with a progress bar; on Ctrl-C keep the jobs that finished, so their rows are
    still written before the command exits with code 130."""
    with progress_bar(len(jobs), label, not quiet) as advance:
        try:
            results = run_jobs(
                jobs, workers=workers, on_done=lambda i, r: advance(describe(jobs[i]))
            )
            return jobs, results, False
        except JobsInterrupted as exc:
            done = sorted(exc.finished)
            if not done:
                raise
            typer.echo(
                f"interrupted: writing the {len(done)} of {len(jobs)} finished rows", err=True
            )
            return [jobs[i] for i in done], [exc.finished[i] for i in done], True


def controllers_command() -> None:
    """List the registered controllers, their parameters and defaults."""
    for name, entry in REGISTRY.items():
        signature = inspect.signature(entry.cls)
        params = ", ".join(
            f"{p.name}={p.default!r}" for p in signature.parameters.values() if p.name != "self"
        )
        typer.echo(f"{name:15s} {entry.summary}\n{'':15s} params: {params}")
