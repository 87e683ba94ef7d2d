"""``autotts data``: fetch, synthesise and inspect replay data."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from autotts.cli.common import check_output_dir, split_names
from autotts.data.catalog import (
    BENCHMARKS,
    ENV_VAR,
    MODELS,
    PUBLIC_URL_TEMPLATE,
    SYNTHETIC,
    list_store,
    resolve_data_dir,
)
from autotts.errors import UsageError

app = typer.Typer(help="Fetch, synthesise and inspect replay data.", no_args_is_help=True)


def _size(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 100_000 else f"{n / 1e3:.1f} kB"


# Options as module-level singletons (typer reads them from the signatures).
_MODELS = typer.Option(
    None,
    "--models",
    "--model",
    "-m",
    help="Models to fetch, repeatable or comma-separated. Default: all ("
    + ", ".join(MODELS)
    + ").",
)
_BENCHMARKS = typer.Option(
    None,
    "--benchmarks",
    "--benchmark",
    "-B",
    help="Benchmarks to fetch, repeatable or comma-separated. Default: all ("
    + ", ".join(BENCHMARKS)
    + ").",
)
_DEST = typer.Option(
    None,
    "--dest",
    help=f"Store folder to write <model>/<benchmark>.json into. Default: ${ENV_VAR} if "
    "set, else $XDG_DATA_HOME/autotts/replay.",
)
_URL_TEMPLATE = typer.Option(
    PUBLIC_URL_TEMPLATE,
    "--url-template",
    hidden=True,
    help="Advanced: URL of each file, with {model} and {benchmark} placeholders "
    "(e.g. a mirror or a local test server). Checksums are verified all the same.",
)
_QUIET = typer.Option(False, "--quiet", "-q", help="No progress bar.")
_OUT = typer.Option(..., "--out", "-o", help="Store folder to write <model>/<benchmark>.json into.")
_QUESTIONS = typer.Option(30, "--questions", "-n", help="Questions per file (at least 1).")
_BRANCHES = typer.Option(
    128, "--branches", help="Trajectories (branches) per question (at least 1)."
)
_SEED = typer.Option(
    0, "--seed", "-s", help="Store seed (>= 0); each file derives its own seed from it."
)
_PATH = typer.Argument(
    ...,
    help="A replay .json file; a store folder (<model>/<benchmark>.json, one row per "
    f"file); or '{SYNTHETIC}' for the built-in synthetic store.",
    show_default=False,
)
_JSON = typer.Option(False, "--json", help="Print the statistics as JSON.")


@app.command("download")
def download_command(
    models: list[str] | None = _MODELS,
    benchmarks: list[str] | None = _BENCHMARKS,
    dest: Path | None = _DEST,
    url_template: str = _URL_TEMPLATE,
    quiet: bool = _QUIET,
) -> None:
    """Fetch the public replay files (AutoTTS repository) and verify their SHA-256.

    Files already present with the right checksum are skipped; a file is only
    ever written complete and verified.

    Example: autotts data download -m Qwen3-4B -B aime24,aime25
    """
    # start-up time: `autotts --help` imports every command module; the downloader loads with `data
    # download`
    from autotts.data.download import DownloadResult, download_public

    if dest is None and os.environ.get(ENV_VAR) == SYNTHETIC:
        raise UsageError(f"${ENV_VAR} is '{SYNTHETIC}', not a folder; pass --dest DIR")
    target = resolve_data_dir(str(dest) if dest is not None else None)
    check_output_dir(target, "--dest")
    chosen_models = split_names(models) or list(MODELS)
    chosen_benchmarks = split_names(benchmarks) or list(BENCHMARKS)
    counts = {"downloaded": 0, "present": 0}

    def report(result: DownloadResult) -> None:
        counts[result.status] += 1
        status = "downloaded" if result.status == "downloaded" else "present   "
        typer.echo(f"{status}  {result.name}  {_size(result.size)}  sha256 ok")

    with _byte_progress(enabled=not quiet) as progress:
        download_public(
            target,
            chosen_models,
            chosen_benchmarks,
            url_template=url_template,
            progress=progress,
            on_file=report,
        )
    typer.echo(
        f"{sum(counts.values())} file(s) in {target}: {counts['downloaded']} downloaded, "
        f"{counts['present']} already present"
    )


@contextmanager
def _byte_progress(enabled: bool) -> Iterator[Any]:
    """A per-file byte progress bar on stderr; yields the download progress callback."""
    if not enabled:
        yield None
        return
    columns = (
        TextColumn("{task.description}", markup=False),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
    )
    tasks: dict[str, TaskID] = {}
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:

        def update(name: str, done: int, total: int | None) -> None:
            task = tasks.get(name)
            if task is None:
                tasks[name] = bar.add_task(name, total=total)
                return
            bar.update(task, completed=done)
            if total is not None and done >= total:
                bar.remove_task(task)
                del tasks[name]

        yield update


@app.command("synth")
def synth_command(
    out: Path = _OUT,
    questions: int = _QUESTIONS,
    branches: int = _BRANCHES,
    seed: int = _SEED,
    confidence: bool = typer.Option(
        False,
        "--confidence",
        help="Also write each probe's mean log-probability (the optional probe_logprobs), "
        "drawn from a seeded model of its own: the files are otherwise the same.",
    ),
) -> None:
    """Write a synthetic replay store in the upstream format.

    Models Synth-Small and Synth-Large, benchmarks aime24, aime25 and hmmt25
    (labels only: they carry the search/held-out split over). The same options
    always give byte-identical files. The model behind the data is documented in
    the autotts.data.synthetic module.

    Example: autotts data synth --out synth-store --questions 30 --branches 64
    """
    # start-up time: `autotts --help` imports every command module; the generator loads with `data
    # synth`
    from autotts.data.synthetic import write_synthetic_store

    if questions < 1:
        raise UsageError(f"--questions must be at least 1, got {questions}")
    if branches < 1:
        raise UsageError(f"--branches must be at least 1, got {branches}")
    if seed < 0:
        raise UsageError(f"--seed must not be negative, got {seed}")
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out} exists and is not a folder")
    check_output_dir(out, "--out")
    paths = write_synthetic_store(
        out, questions=questions, branches=branches, seed=seed, confidence=confidence
    )
    for path in paths:
        typer.echo(f"wrote {path}")
    typer.echo(
        f"{len(paths)} file(s), {questions} question(s) x {branches} branch(es) each, seed {seed}"
    )


@app.command("info")
def info_command(path: str = _PATH, as_json: bool = _JSON) -> None:
    """Summarise replay data: size, lengths, probes, ERR share, pass@1 and majority vote.

    Example: autotts data info ~/.local/share/autotts/replay/Qwen3-4B/aime24.json
    """
    # start-up time: `autotts --help` imports every command module; the summary's modules load with
    # `data summary`
    from autotts.data.loading import load_replay
    from autotts.data.summary import format_summary, summarize, summary_table
    from autotts.data.synthetic import synthetic_replay_sets

    target = Path(path).expanduser()
    if path == SYNTHETIC and not target.exists():
        summaries = [summarize(r) for r in synthetic_replay_sets()]
        title = "synthetic store"
    elif target.is_dir():
        files = [(f.path, f.model, f.benchmark) for f in list_store(target)]
        if not files:  # a model folder: <benchmark>.json directly inside
            files = [(p, target.name, p.stem) for p in sorted(target.glob("*.json"))]
        if not files:
            raise UsageError(f"no replay files (<model>/<benchmark>.json) in {target}")
        summaries = [summarize(load_replay(p, model=m, benchmark=b)) for p, m, b in files]
        title = str(target)
    else:
        summary = summarize(load_replay(target))
        if as_json:
            typer.echo(json.dumps(summary, indent=2))
        else:
            typer.echo(format_summary(summary), nl=False)
        return
    if as_json:
        typer.echo(json.dumps(summaries, indent=2))
        return
    console = Console()
    if not console.is_terminal:  # piped: do not squeeze the table into 80 columns
        console = Console(width=200)
    console.print(summary_table(summaries, title=title))
