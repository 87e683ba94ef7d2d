"""``autotts eval``, ``sweep``, ``table`` and ``controllers``."""

from __future__ import annotations

import inspect
import json
from pathlib import Path
from typing import Any

import typer

from autotts.cli.answers_opt import ANSWERS, with_answers
from autotts.cli.common import (
    DATA_HELP,
    WORKERS,
    InterruptedAfterOutput,
    all_cores,
    check_output_file,
    data_refs,
    dedupe,
    parse_betas,
    parse_params,
    progress_bar,
    split_names,
    write_output,
)
from autotts.cli.executor_opt import ADDRESS, EXECUTOR, executor_scope
from autotts.cli.interpreter_opt import INTERPRETER
from autotts.controllers.registry import REGISTRY, ControllerSpec, build, is_file_reference
from autotts.env.limits import DEFAULT_MAX_STEPS
from autotts.errors import UsageError
from autotts.evaluation.executors import JobExecutor, JobsInterrupted, evaluate_job, run_jobs
from autotts.evaluation.interpreters import check_interpreter, resolve_interpreter
from autotts.evaluation.jobs import EvalJob, load_data, runs_in_sandbox
from autotts.evaluation.protocols import EvaluationProtocol, protocol_from_name
from autotts.evaluation.results import EvalResult, to_csv, to_json
from autotts.evaluation.trace_files import KEEP_CHOICES, TraceWriter, check_filter
from autotts.report.tables import format_tokens, render_rows
from autotts.sandbox import read_candidate

CONTROLLER_HELP = (
    "Controller: a registered name (see 'autotts controllers') or path/to/file.py:ClassName "
    "(a subclass of autotts.Controller whose __init__ takes beta; ':ClassName' may be left "
    "out when the file has one). How to write one: 'autotts guide'."
)

# Options shared by eval and sweep (typer reads them from the signatures).
_PROTOCOL = typer.Option(
    "reference",
    "--protocol",
    help="'reference' (the published 100-seed shuffle protocol) or 'subsample' "
    "(random sub-pools of --size branches, --draws times, from --seed).",
)
# Protocol options default to None so that one given for the other protocol is refused.
_SEEDS = typer.Option(
    None, "--seeds", min=1, help="reference: number of shuffle seeds (0..N-1). Default: 100."
)
_DRAWS = typer.Option(
    None, "--draws", min=2, help="subsample: number of random sub-pools. Default: 20."
)
_SIZE = typer.Option(None, "--size", min=1, help="subsample: branches per sub-pool. Default: 64.")
_SEED = typer.Option(None, "--seed", help="subsample: seed of the sub-pool draws. Default: 0.")
_TABLE_SEEDS = typer.Option(100, "--seeds", min=1, help="Number of shuffle seeds (0..N-1).")
_MAX_STEPS = typer.Option(
    DEFAULT_MAX_STEPS,
    "--max-steps",
    min=1,
    help="Session read calls one episode may make before the controller is stopped "
    "(catches controllers that never stop).",
)
_DATA = typer.Option(None, "--data", "-d", help=DATA_HELP)
_MODEL = typer.Option(None, "--model", "-m", help="Model folder in the store (default: the first).")
_BENCHMARK = typer.Option(
    None, "--benchmark", "-B", help="Benchmark file in the store (default: aime24)."
)
_WORKERS = WORKERS
# eval runs one job: more processes split its seeds (default 1)
_EVAL_WORKERS = typer.Option(1, "--workers", "-w", min=1, help="Processes to split the seeds over.")
_QUIET = typer.Option(False, "--quiet", "-q", help="No progress bar.")
_TRUST = typer.Option(
    False,
    "--trust",
    help="Run a controller file in this process, outside the sandbox and without the source "
    "audit: fastest, for code you wrote yourself. Without it, controller files run in the "
    "sandbox (see 'autotts check').",
)


def _protocol(
    name: str, seeds: int | None, draws: int | None, size: int | None, seed: int | None
) -> EvaluationProtocol:
    """The protocol; an option that belongs to the other protocol is refused, not ignored."""
    if name == "reference":
        for option, value in (("--size", size), ("--draws", draws), ("--seed", seed)):
            if value is not None:
                raise UsageError(f"{option} applies only to --protocol subsample")
    elif name == "subsample" and seeds is not None:
        raise UsageError("--seeds applies only to --protocol reference (subsample uses --draws)")
    given = {"seeds": seeds, "draws": draws, "size": size, "seed": seed}
    return protocol_from_name(name, **{k: v for k, v in given.items() if v is not None})


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
    seeds: int | None = _SEEDS,
    draws: int | None = _DRAWS,
    size: int | None = _SIZE,
    seed: int | None = _SEED,
    answers: str = ANSWERS,
    as_json: bool = typer.Option(False, "--json", help="Print the full result as JSON."),
    as_csv: bool = typer.Option(False, "--csv", help="Print one CSV row (with provenance)."),
    out: Path | None = typer.Option(None, "--out", "-o", help="Write the output to a file."),
    trust: bool = _TRUST,
    quiet: bool = _QUIET,
    traces: Path | None = typer.Option(
        None,
        "--traces",
        help="Write one JSON line per episode with its execution trace (slower: the "
        "controller runs episode by episode). Lines are flushed as episodes finish; "
        "an episode whose controller crashed is written too, with its error.",
    ),
    workers: int = _EVAL_WORKERS,
    executor: str = EXECUTOR,
    address: str | None = ADDRESS,
    max_steps: int = _MAX_STEPS,
    interpreter: str = INTERPRETER,
    traces_only: str = typer.Option(
        "all",
        "--traces-only",
        help=f"With --traces: keep only these episodes ({', '.join(KEEP_CHOICES)}).",
    ),
    traces_sample: int | None = typer.Option(
        None,
        "--traces-sample",
        help="With --traces: keep a seeded random sample of N episodes (of those kept by "
        "--traces-only); written sorted by replicate and question when the run ends.",
    ),
) -> None:
    """Evaluate one controller on one replay file.

    Example: autotts eval --data synthetic --controller cmc --beta 0.5
    """
    if as_json and as_csv:
        raise UsageError("choose one of --json and --csv")
    check_output_file(out, "--out")
    check_output_file(traces, "--traces")
    if traces is None and (traces_only != "all" or traces_sample is not None):
        raise UsageError("--traces-only and --traces-sample need --traces FILE")
    check_filter(traces_only, traces_sample)
    ref = with_answers([_one_ref(data, model, benchmark)], answers)[0]
    spec = ControllerSpec(controller, beta, parse_params(param), trusted=trust)
    _fail_early(spec)
    proto = _protocol(protocol, seeds, draws, size, seed)
    interpreter = resolve_interpreter(interpreter)
    check_interpreter(interpreter)
    job = EvalJob(ref, spec, proto, max_steps=max_steps, interpreter=interpreter)
    total = job.protocol.replicates * len(load_data(ref))
    if traces is not None and workers > 1:
        typer.echo("note: --traces runs in one process; --workers is ignored", err=True)
    if traces is not None and executor != "local":
        raise UsageError("--traces runs in this process: use it with --executor local")
    with progress_bar(total, "episodes", not quiet) as advance:
        # in episodes on this machine, in cells on Ray: shown as the share of episodes
        def track(done: int, of: int) -> None:
            advance(completed=total * done // max(of, 1))

        with executor_scope(executor, address, workers, progress=track) as chosen:
            if traces is not None:
                result = _evaluate_with_traces(job, traces, track, traces_only, traces_sample)
            else:
                result = evaluate_job(job, workers=workers, executor=chosen, progress=track)
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


def _fail_early(spec: ControllerSpec) -> None:
    """A bad name, file or parameter fails here, before any work. An untrusted file is
    only read and decoded: it is imported inside the sandbox alone, never here."""
    if runs_in_sandbox(spec):
        read_candidate(spec.name)
    else:
        build(spec)


def _evaluate_with_traces(
    job: EvalJob, path: Path, progress: Any, only: str = "all", sample: int | None = None
) -> EvalResult:
    path.parent.mkdir(parents=True, exist_ok=True)
    header = {
        "model": job.data.model,
        "benchmark": job.data.benchmark,
        "controller": job.spec.to_dict(),
    }
    total = job.protocol.replicates * len(load_data(job.data))
    with path.open("w", encoding="utf-8") as handle:
        sink = TraceWriter(handle, header, only=only, sample=sample)
        # a sample is bounded by N; every other trace file grows with the episodes
        watched = sink if sample is not None else TraceSizeWatch(sink, handle, total, path)
        try:
            result = evaluate_job(job, trace_sink=watched, progress=progress)
        finally:  # a sample is written at the end, also when interrupted
            written = sink.close()
    typer.echo(f"wrote {written} episode traces to {path}", err=True)
    return result


#: a trace file projected above this gets a warning early in the run
LARGE_TRACE_BYTES = 100 * 1024 * 1024


class TraceSizeWatch:
    """A trace sink that passes every episode on and, after the first episodes, projects
    the file's final size: above :data:`LARGE_TRACE_BYTES` it says so once on stderr,
    with what keeps less, while the run is still young (100 seeds of CMC on one public
    file write about 0.5 GB)."""

    #: episodes written before the projection (one replicate of a 30-question file)
    PILOT = 30

    def __init__(self, sink: Any, handle: Any, total: int, path: Path) -> None:
        self._sink = sink
        self._handle = handle
        self._total = total
        self._path = path
        self._seen = 0

    def __call__(self, replicate: int, question: int, record: Any) -> None:
        self._sink(replicate, question, record)
        self._seen += 1
        if self._seen == min(self.PILOT, self._total):
            per_episode = self._handle.tell() / self._seen
            projected = per_episode * self._total
            if projected > LARGE_TRACE_BYTES:
                typer.echo(
                    f"warning: {self._path} is heading for about {projected / 2**20:,.0f} MB "
                    f"({self._total:,} episodes at {per_episode / 1024:,.0f} KB); fewer --seeds, "
                    "--traces-only wrong or --traces-sample N keep less",
                    err=True,
                )


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
    seeds: int | None = _SEEDS,
    draws: int | None = _DRAWS,
    size: int | None = _SIZE,
    seed: int | None = _SEED,
    answers: str = ANSWERS,
    plot: Path | None = typer.Option(
        None,
        "--plot",
        help="Write accuracy vs tokens (log x), one line per controller (.png/.svg/.pdf).",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print every result as JSON."),
    as_csv: bool = typer.Option(False, "--csv", help="Print rows as CSV."),
    out: Path | None = typer.Option(None, "--out", "-o", help="Write the output to a file."),
    workers: int | None = _WORKERS,
    executor: str = EXECUTOR,
    address: str | None = ADDRESS,
    quiet: bool = _QUIET,
    trust: bool = _TRUST,
    max_steps: int = _MAX_STEPS,
    interpreter: str = INTERPRETER,
) -> None:
    """Trace accuracy-vs-tokens curves by sweeping β.

    Each row shows the parameters β resolves to (those that change along the curve).
    Ctrl-C writes the rows that finished, in the format asked for (--json: a list, empty
    if none finished), and exits with code 130.

    Example: autotts sweep --data synthetic -c sc -c cmc --betas 0:1:0.25 --plot curve.png
    """
    if as_json and as_csv:
        raise UsageError("choose one of --json and --csv")
    check_output_file(out, "--out")
    check_output_file(plot, "--plot")
    if plot is not None and plot.suffix.lower() not in {".png", ".pdf", ".svg"}:
        raise UsageError(f"--plot must end in .png, .pdf or .svg, got {plot.name}")
    ref = with_answers([_one_ref(data, model, benchmark)], answers)[0]
    values = dedupe(parse_betas(betas), "β", lambda b: f"{b:g}")
    proto = _protocol(protocol, seeds, draws, size, seed)
    names = dedupe(split_names(controller), "controller")
    for name in names:
        _fail_early(ControllerSpec(name, values[0], trusted=trust))
    interpreter = resolve_interpreter(interpreter)
    check_interpreter(interpreter)
    workers = all_cores(workers)
    jobs = [
        EvalJob(
            ref,
            ControllerSpec(name, b, trusted=trust),
            proto,
            _short(name),
            max_steps=max_steps,
            interpreter=interpreter,
        )
        for name in names
        for b in values
    ]
    with executor_scope(executor, address, workers) as chosen:
        jobs, results, interrupted = _run_keeping_finished(
            jobs, workers, "sweep", quiet, lambda job: job.spec.label(), chosen
        )
    rows = [
        {
            "controller": job.label,
            "beta": job.spec.beta,
            "accuracy": r.metrics.accuracy,
            "tokens": r.metrics.tokens,
            "seq_tokens": r.metrics.seq_tokens,
            "params": shown,
        }
        for job, r, shown in zip(jobs, results, _varying_params(jobs, results))
    ]
    if plot is not None and results:
        # the plot extra (matplotlib), only for --plot
        from autotts.report.plots import CurvePoint, plot_curves

        curves: dict[str, list[CurvePoint]] = {}
        for job, r in zip(jobs, results):
            low, high = r.metrics.accuracy_ci95
            point = CurvePoint(r.metrics.tokens, r.metrics.accuracy, low, high, job.spec.beta)
            curves.setdefault(job.label, []).append(point)
        plot_curves(curves, plot, title=f"{ref.model} / {ref.benchmark}")
        typer.echo(f"wrote {plot}", err=True)
    if as_json:  # a list even when interrupted before any row: valid JSON
        write_output(to_json([r.to_dict() for r in results]), out)
    elif as_csv:  # CSV rows carry what is needed to re-run them, all parameters included
        extra = [
            {
                "model": ref.model,
                "benchmark": ref.benchmark,
                **r.provenance_columns(),
                "params": json.dumps(r.params, separators=(",", ":")),
            }
            for r in results
        ]
        write_output(to_csv([{**row, **more} for row, more in zip(rows, extra)]), out)
    else:
        write_output(render_rows(rows), out)
    if interrupted:
        raise interrupted_exit()


def _short(name: str) -> str:
    """``path/to/file.py:Class`` -> ``Class``, ``path/to/file.py`` -> ``file``; names unchanged."""
    if not is_file_reference(name):
        return name
    return name.rsplit(":", 1)[-1] if not name.endswith(".py") else Path(name).stem


def _varying_params(jobs: list[EvalJob], results: list[EvalResult]) -> list[str]:
    """Per row, ``k=v`` of the resolved parameters that differ along its controller's curve
    (all of them for a curve of one point); β is its own column."""
    by_label: dict[str, list[dict[str, Any]]] = {}
    for job, r in zip(jobs, results):
        by_label.setdefault(job.label, []).append(r.params)
    shown = []
    for job, r in zip(jobs, results):
        curve = by_label[job.label]
        keys = [
            k
            for k in r.params
            if k != "beta" and (len(curve) == 1 or len({repr(p.get(k)) for p in curve}) > 1)
        ]
        shown.append(" ".join(f"{k}={r.params[k]}" for k in keys))
    return shown


def _run_keeping_finished(
    jobs: list[EvalJob],
    workers: int,
    label: str,
    quiet: bool,
    describe: Any,
    executor: JobExecutor | None = None,
) -> tuple[list[EvalJob], list[EvalResult], bool]:
    """Run with a progress bar; on Ctrl-C keep the jobs that finished.

    The command then writes their rows as it would have written all of them, even none
    (``--json`` gives ``[]``): output sent to a file (``--json > f``) is always a whole
    document of what finished, never an empty file or a cut one. It says so in one line
    and ends with :func:`interrupted_exit` (code 130, no second "interrupted" line)."""
    with progress_bar(len(jobs), label, not quiet) as advance:
        try:
            results = run_jobs(
                jobs,
                workers=workers,
                executor=executor,
                on_done=lambda i, r: advance(describe(jobs[i])),
            )
            return jobs, results, False
        except JobsInterrupted as exc:
            finished = exc.finished
    done = sorted(finished)
    typer.echo(f"interrupted: writing the {len(done)} of {len(jobs)} finished rows", err=True)
    return [jobs[i] for i in done], [finished[i] for i in done], True


def interrupted_exit() -> InterruptedAfterOutput:
    """What ends a command whose interrupted run's rows were written (and said so)."""
    return InterruptedAfterOutput()


def controllers_command() -> None:
    """List the registered controllers and their parameters (with defaults).

    Every parameter listed can be set with --param key=value.
    """
    for name, entry in REGISTRY.items():
        resolved = entry.cls().params()
        signature = inspect.signature(entry.cls)
        for p in signature.parameters.values():
            if p.kind is p.KEYWORD_ONLY or p.kind is p.POSITIONAL_OR_KEYWORD:
                resolved.setdefault(p.name, p.default)
        params = ", ".join(f"{k}={v!r}" for k, v in resolved.items())
        typer.echo(f"{name:15s} {entry.summary}\n{'':15s} params: {params}")
    typer.echo("\nYour own controller: see 'autotts guide'.")
