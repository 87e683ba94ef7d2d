"""``autotts compare A B``: a paired bootstrap of two controllers at matched tokens.

The evaluation runs through the same jobs as ``eval`` and ``table`` (controller files in
the sandbox, built-ins on their fast path); the statistics are
:mod:`autotts.evaluation.paired`'s. This module only resolves the arguments and prints.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import typer

from autotts.cli.answers_opt import ANSWERS, with_answers
from autotts.cli.common import (
    all_cores,
    check_output_file,
    data_refs,
    dedupe,
    parse_betas,
    progress_bar,
    split_names,
    write_output,
)
from autotts.cli.eval_cmd import (
    _DATA,
    _MAX_STEPS,
    _QUIET,
    _TABLE_SEEDS,
    _TRUST,
    _WORKERS,
    _fail_early,
    _short,
)
from autotts.cli.executor_opt import ADDRESS, EXECUTOR, executor_scope
from autotts.cli.interpreter_opt import INTERPRETER
from autotts.controllers.registry import REGISTRY, ControllerSpec, is_file_reference
from autotts.errors import UsageError
from autotts.evaluation.executors import run_jobs
from autotts.evaluation.interpreters import check_interpreter, resolve_interpreter
from autotts.evaluation.jobs import DataRef, EvalJob, load_data
from autotts.evaluation.paired import MATCH_RULES, CurvePoint, compare
from autotts.evaluation.paired_gain import question_set
from autotts.evaluation.protocols import protocol_from_name
from autotts.evaluation.results import SCHEMA_VERSION, EvalResult, to_json
from autotts.evaluation.table import DISCOVERED_METHODS, TABLE_METHODS

__all__ = ["Side", "compare_command", "register", "resolve_side"]

_SIDE_HELP = (
    "a registered controller (swept over {betas}), a controller file path.py[:Class] "
    "(swept likewise, in the sandbox unless --trust), or a row of 'autotts table' such as "
    "'SC@64' or 'CMC β=0.5' (one fixed point)"
)


def register(app: typer.Typer) -> None:
    app.command("compare")(compare_command)


@dataclass(frozen=True)
class Side:
    """One controller of the comparison: its label and one spec per operating point."""

    label: str
    specs: tuple[ControllerSpec, ...]
    #: a table row (one fixed setting), not a β sweep
    fixed: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "fixed": self.fixed,
            "controllers": [s.to_dict() for s in self.specs],
        }


def resolve_side(text: str, betas: list[float], trust: bool) -> Side:
    """``text`` as a controller swept over ``betas``, or as one row of the table. A bad
    name or a missing or unreadable file fails here, before any evaluation."""
    if text in REGISTRY or is_file_reference(text):
        specs = tuple(ControllerSpec(text, b, trusted=trust) for b in betas)
        _fail_early(specs[0])
        return Side(_short(text), specs, fixed=False)
    rows = {**TABLE_METHODS, **DISCOVERED_METHODS}
    # start-up time: the table command's modules load only when a name needs them
    from autotts.cli.table_cmd import _method_key

    by_key = {_method_key(label): label for label in rows}
    label = by_key.get(_method_key(text))
    if label is not None:
        return Side(label, (rows[label],), fixed=True)
    import difflib  # start-up time: only a misspelt name needs it

    known = {name.lower(): name for name in [*REGISTRY, *rows]}  # "sc@65" is close to "SC@64"
    close = [known[k] for k in difflib.get_close_matches(text.lower(), known, n=3, cutoff=0.5)]
    hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    raise UsageError(
        f"unknown controller {text!r}{hint}: give a registered name ({', '.join(REGISTRY)}), "
        f"a controller file (path/to/file.py[:Class]) or a table row ({', '.join(rows)})"
    )


def compare_command(
    a: str = typer.Argument(
        ..., help="Controller A, the one tested: " + _SIDE_HELP.format(betas="--betas")
    ),
    b: str = typer.Argument(
        "cmc", help="Controller B, the reference: " + _SIDE_HELP.format(betas="--curve-betas")
    ),
    data: str | None = _DATA,
    models: list[str] | None = typer.Option(
        None, "--models", "-m", help="Only these models (repeatable or comma-separated)."
    ),
    benchmarks: list[str] | None = typer.Option(
        None, "--benchmarks", "-B", help="Only these benchmarks (repeatable or comma-separated)."
    ),
    betas: str = typer.Option(
        "0.5,1", "--betas", help="A's operating points (β values: start:stop:step or a list)."
    ),
    curve_betas: str = typer.Option(
        "0:1:0.1",
        "--curve-betas",
        help="B's curve, on which A's tokens are matched (β values: start:stop:step or a list).",
    ),
    match: str = typer.Option(
        "at-least",
        "--match",
        help="at-least: B's cheapest point spending at least A's mean tokens; interpolate: "
        "B's curve at exactly A's mean tokens (a mixture of the two B points around them).",
    ),
    level: float = typer.Option(
        0.95, "--level", help="Confidence level of the intervals (equal-tailed percentiles)."
    ),
    resamples: int = typer.Option(
        10_000, "--resamples", min=1, help="Bootstrap resamples of the questions."
    ),
    bootstrap_seed: int = typer.Option(
        0, "--bootstrap-seed", help="Seed of the bootstrap's question draws."
    ),
    seeds: int = _TABLE_SEEDS,
    answers: str = ANSWERS,
    as_json: bool = typer.Option(False, "--json", help="Print the comparison as JSON."),
    out: Path | None = typer.Option(None, "--out", "-o", help="Write the output to a file."),
    workers: int | None = _WORKERS,
    executor: str = EXECUTOR,
    address: str | None = ADDRESS,
    quiet: bool = _QUIET,
    trust: bool = _TRUST,
    max_steps: int = _MAX_STEPS,
    interpreter: str = INTERPRETER,
) -> None:
    """Compare controller A with B (default CMC) at matched tokens, question by question.

    Both run on every model × benchmark file chosen (reference protocol, --seeds shuffle
    seeds). For each of A's β and each file, B's point is taken from its curve by
    tokens (--match), and A − B in accuracy points gets a paired bootstrap interval over
    the file's questions. The pooled row averages the files, and its bootstrap draws each
    question once for every model (questions, not (model, question) pairs, are what is
    sampled). Rows marked '<' are unmatched: B's whole curve spends fewer tokens than A.

    Example: autotts compare examples/candidates/05_quick_agreement.py cmc --data synthetic
    """
    check_output_file(out, "--out")
    if not 0.0 < level < 1.0:
        raise UsageError(f"--level must lie strictly between 0 and 1, got {level:g}")
    if match not in MATCH_RULES:
        raise UsageError(f"--match must be one of {', '.join(MATCH_RULES)}, got {match!r}")
    a_betas = dedupe(parse_betas(betas), "β", lambda x: f"{x:g}")
    b_betas = dedupe(parse_betas(curve_betas), "β", lambda x: f"{x:g}")
    side_a = resolve_side(a, a_betas, trust)
    side_b = resolve_side(b, b_betas, trust)
    workers = all_cores(workers)
    refs = with_answers(data_refs(data, split_names(models), split_names(benchmarks)), answers)
    interpreter = resolve_interpreter(interpreter)
    check_interpreter(interpreter)
    protocol = protocol_from_name("reference", seeds=seeds)

    # One job per distinct (spec, file): comparing a controller with itself runs it once.
    keys: dict[str, int] = {}
    jobs: list[EvalJob] = []
    plan: list[tuple[Side, int, DataRef, int]] = []  # side, point, file, job index
    for side in (side_a, side_b):
        for i, spec in enumerate(side.specs):
            for ref in refs:
                key = json.dumps([spec.to_dict(), spec.trusted, ref.store, ref.model,
                                  ref.benchmark, ref.answers], sort_keys=True)  # fmt: skip
                if key not in keys:
                    keys[key] = len(jobs)
                    jobs.append(EvalJob(ref, spec, protocol, side.label, max_steps=max_steps,
                                        interpreter=interpreter))  # fmt: skip
                plan.append((side, i, ref, keys[key]))
    with (
        executor_scope(executor, address, workers) as chosen,
        progress_bar(len(jobs), "compare", not quiet) as advance,
    ):
        results = run_jobs(
            jobs,
            workers=workers,
            executor=chosen,
            on_done=lambda i, _r: advance(f"{jobs[i].label} {jobs[i].data.model}"),
        )
    groups = {(ref.model, ref.benchmark): question_set(ref) for ref in refs}
    rows = compare(
        _curve(side_a, plan, results),
        _curve(side_b, plan, results),
        groups,
        match=match,
        draws=resamples,
        seed=bootstrap_seed,
        level=level,
    )
    payload = {
        "schema_version": SCHEMA_VERSION,
        "a": {**side_a.to_dict(), "sandbox": _sandbox(side_a, plan, results)},
        "b": {**side_b.to_dict(), "sandbox": _sandbox(side_b, plan, results)},
        "protocol": protocol.to_dict(),
        "bootstrap": {
            "resamples": resamples,
            "seed": bootstrap_seed,
            "level": level,
            "match": match,
            "pooled": "each question drawn jointly for every model (same benchmark file)",
        },
        "files": [
            {**load_data(ref).provenance(), "question_set": groups[(ref.model, ref.benchmark)]}
            for ref in refs
        ],
        "rows": rows,
    }
    if as_json:
        write_output(to_json(payload), out)
    else:
        write_output(render(payload), out)


def _curve(
    side: Side, plan: list[tuple[Side, int, DataRef, int]], results: list[EvalResult]
) -> list[CurvePoint]:
    points = []
    for i, spec in enumerate(side.specs):
        mine = [results[j] for s, k, _ref, j in plan if s is side and k == i]
        points.append(CurvePoint.from_results(spec.beta, mine))
    return points


def _sandbox(
    side: Side, plan: list[tuple[Side, int, DataRef, int]], results: list[EvalResult]
) -> list[str] | None:
    """The isolation layers a controller file ran under (None: a built-in, or --trust)."""
    first = next(results[j] for s, _k, _ref, j in plan if s is side)
    layers = first.controller.get("sandbox")
    return list(layers) if layers is not None else None


def _beta(value: float | None) -> str:
    return "-" if value is None else f"{value:g}"


def _b_point(row: dict[str, Any]) -> str:
    betas, weights = row["b_betas"], row["b_weights"]
    if len(betas) == 1:
        return _beta(betas[0])
    return " + ".join(f"{w:.2f}·{_beta(b)}" for b, w in zip(betas, weights))


def _points(x: float) -> str:
    """``+1.23``; a bound a rounding error below zero prints as ``+0.00``, not ``-0.00``."""
    return f"{round(x, 2) + 0.0:+.2f}"


def render(payload: dict[str, Any]) -> str:
    """The comparison as a rich table, rendered to text (no colour, fixed width)."""
    # start-up time of `autotts --help`: rich's table loads only to print one
    from rich.console import Console
    from rich.table import Table

    a, b, boot = payload["a"]["label"], payload["b"]["label"], payload["bootstrap"]
    percent = f"{100 * boot['level']:g} %"
    table = Table(
        title=f"A = {a}, B = {b}: A − B at matched tokens ({boot['match']})",
        caption=(
            f"Paired bootstrap over questions: {boot['resamples']:,} resamples, seed "
            f"{boot['seed']}, {percent} percentile intervals; accuracy in %, tokens per "
            "question. Pooled: mean over files, each question resampled jointly for every "
            "model. '<': unmatched, B's whole curve spends fewer tokens than A."
        ),
        caption_justify="left",
    )
    table.add_column("model")
    table.add_column("benchmark")
    for name in ("A β", "A acc", "A tokens", "B β", "B acc", "B tokens", "A − B",
                 f"{percent} CI", "P(≤0)"):  # fmt: skip
        table.add_column(name, justify="right")
    rows = payload["rows"]
    for i, row in enumerate(rows):
        pooled = row["scope"] == "pooled"
        low, high = row["ci"]
        table.add_row(
            "pooled" if pooled else row["model"],
            f"{row['cells']} files" if pooled else row["benchmark"],
            _beta(row["a_beta"]),
            f"{row['a_accuracy']:.2f}",
            f"{row['a_tokens'] / 1000:.1f}k",
            _b_point(row),
            f"{row['b_accuracy']:.2f}",
            f"{row['b_tokens'] / 1000:.1f}k" + ("" if row["matched"] else " <"),
            _points(row["gain"]),
            f"[{_points(low)}, {_points(high)}]",
            f"{row['p_not_positive']:.3f}",
            style="bold" if pooled else None,
            end_section=pooled and i < len(rows) - 1,
        )
    buffer = io.StringIO()
    Console(file=buffer, width=120, color_system=None, highlight=False).print(table)
    return buffer.getvalue()
