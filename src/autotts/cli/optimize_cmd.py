"""``autotts optimize`` (also ``autotts discover --proposer optimizer``): LLM-free discovery."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import typer

from autotts.cli.common import DATA_HELP, all_cores, parse_betas, split_names
from autotts.data.refs import data_refs
from autotts.errors import UnknownName, UsageError
from autotts.extras import require

__all__ = ["optimize", "register"]


def register(app: typer.Typer) -> None:
    app.command("optimize")(optimize_command)


class _Printer:
    """Progress lines: trials finished, elapsed, the best points so far (at most every 10 s)."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet
        self.last = 0.0
        self.last_heldout = 0.0

    def __call__(self, e: dict[str, Any]) -> None:
        if self.quiet:
            return
        phase = e["phase"]
        if phase == "progress":
            now = time.monotonic()
            if now - self.last < 10.0:
                return
            self.last = now
            text = f"{e['trials']} trials, {e['elapsed']:.0f} s | {e['frontier']}"
        elif phase == "start":
            text = f"{e['workers']} worker processes, budget {e['budget']:.0f} s"
        elif phase == "round":
            text = f"round {e['round']} written (trials {e['trials'][0]}–{e['trials'][1]})"
        elif phase == "select":
            s = e["selection"]
            text = (
                "no finished trial"
                if s.get("round") is None
                else f"winner: trial {s['trial']} → round {s['round']} ({s['name']})"
            )
        elif phase == "heldout":
            # One event per held-out cell (136 of them): a line for the first, then at most
            # one every 10 s and the last, so a log file gets a few lines, not 136.
            done, total = e.get("done"), e.get("total")
            now = time.monotonic()
            if done not in (None, 1, total) and now - self.last_heldout < 10.0:
                return
            self.last_heldout = now
            text = (
                f"held-out: {done if done is not None else ''}/{total if total is not None else ''}"
            )
        else:
            text = ", ".join(f"{k}={v}" for k, v in e.items() if k != "phase")
        typer.echo(f"optimizer · {phase:<8s} {text}", err=True)


def optimize(
    out: Path,
    *,
    resume: bool = False,
    data: str | None = None,
    models: list[str] | None = None,
    search_benchmarks: list[str] | None = None,
    heldout_benchmarks: list[str] | None = None,
    search_models: list[str] | None = None,
    heldout_models: list[str] | None = None,
    sampler: str = "tpe",
    seed: int = 0,
    time_budget: float | None = None,
    replay_seeds: int = 10,
    search_seeds: int = 1,
    betas: str = "0,0.25,0.5,0.75,1",
    workers: int | None = None,
    trials_per_round: int = 25,
    patience: int = 400,
    part_penalty: float = 0.1,
    objective: str = "cv",
    metric: str = "two-point",
    staged: bool = True,
    fix_parts: list[str] | None = None,
    export: Path | None = None,
    heldout: bool = True,
    heldout_seeds: int = 100,
    plot: Path | None = None,
    quiet: bool = False,
    every_pick: bool = False,
) -> None:
    """``autotts optimize``: the flags' values, parsed by :func:`optimize_command`."""
    # start-up time: `autotts --help` imports every command module; the optimizer's modules load
    # with `optimize`
    from autotts.discovery.optimizer.driver import run_optimizer
    from autotts.discovery.optimizer.heldout import evaluate_heldout_curves
    from autotts.discovery.optimizer.worker import OptimizerSettings
    from autotts.discovery.settings import split_refs

    # before any data is read; cmaes only for the sampler that uses it
    require("optimize", "autotts optimize", "optuna")
    if sampler == "cmaes":
        require("optimize", "--sampler cmaes", "cmaes")
    printer = _Printer(quiet)
    search = held = None
    settings = None
    if not resume:
        search, held = split_refs(
            data_refs(data),
            split_names(models) or None,
            split_names(search_benchmarks) or None,
            split_names(heldout_benchmarks) or None,
            search_models=split_names(search_models) or None,
            heldout_models=split_names(heldout_models) or None,
        )
        settings = OptimizerSettings(
            sampler=sampler,
            seed=seed,
            time_budget=time_budget if time_budget is not None else 1800.0,
            replay_seeds=replay_seeds,
            search_seeds=search_seeds,
            betas=parse_betas(betas),
            workers=all_cores(workers),
            trials_per_round=trials_per_round,
            patience=patience,
            part_penalty=part_penalty,
            objective=objective,
            metric=metric,
            staged=staged,
            fixed_parts=_fixed_parts(fix_parts),
        )
    try:
        run = run_optimizer(
            out,
            search=search,
            heldout=held,
            settings=settings,
            resume=resume,
            time_budget=time_budget if resume else None,
            on_event=printer,
        )
    except KeyboardInterrupt:
        typer.echo(
            f"stopped: finished trials are kept; continue with --resume --out {out}", err=True
        )
        raise
    selection = run.selection()
    if selection is None or selection.round is None:
        typer.echo("no trial finished: nothing selected", err=True)
        return
    if export is not None:
        source = run.round_dir(int(selection.round)) / "candidate.py"
        export.write_text(source.read_text(encoding="utf-8"), encoding="utf-8")
        typer.echo(f"exported the winner to {export} (class {selection.class_name})", err=True)
    if heldout and not run.file("heldout.json").is_file():
        evaluate_heldout_curves(run, seeds=heldout_seeds, on_event=printer)
    if run.file("heldout.json").is_file():
        # start-up time: `autotts --help` imports every command module; the optimizer's modules load
        # with `optimize`
        from autotts.discovery.optimizer.heldout import mean_curves, summary_lines

        payload = run.read_json("heldout.json")
        typer.echo("held-out (mean over files, reference protocol):")
        for line in summary_lines(payload):
            typer.echo(f"  {line}")
        if plot is not None:
            # the plot extra (matplotlib), only for --plot
            from autotts.report.plots import plot_curves

            label = f"search winner (trial {selection.trial}, β = 0…1)"
            plot_curves(
                mean_curves(payload, label), plot, title="held-out: AIME25 + HMMT25, 4 models"
            )
            typer.echo(f"wrote {plot}", err=True)
    if every_pick:
        _every_pick(run, heldout_seeds, printer)
    typer.echo(
        f"selected trial {selection.trial} (rounds/{int(selection.round):04d}/candidate.py:"
        f"{selection.class_name}); 'autotts report {out}' writes the page"
    )


def _every_pick(run: Any, seeds: int, printer: Any) -> None:
    """Every search's pick against CMC on the held-out files, and how many pass the rule."""
    # start-up time: `autotts --help` imports every command module; the optimizer's modules load
    # with `optimize`
    from autotts.discovery.heldout_records import BudgetGains
    from autotts.discovery.optimizer.stability import PICKS_FILE, evaluate_every_pick

    if run.file(PICKS_FILE).is_file():
        result = run.read_json(PICKS_FILE)
    else:
        result = evaluate_every_pick(run, seeds=seeds, on_event=printer)
    typer.echo("every search's pick on the held-out files (a report; it chose nothing):")
    for pick in result["picks"]:
        rows = []
        for budget in map(BudgetGains.from_dict, pick["gains"]):
            for c in budget.search_choices():
                low, high = c.gain.ci95
                rows.append(
                    f"≤CMC{budget.cmc_beta:g}: β={c.beta:g} {c.gain.gain:+.2f} "
                    f"[{low:+.2f}, {high:+.2f}]" + ("" if c.within_budget else " over budget")
                )
        tag = ", the winner" if pick["selected"] else ""
        verdict = "passes" if pick["passes"] else "does not pass"
        typer.echo(
            f"  search {pick['search']} (trial {pick['trial']}{tag}): {'; '.join(rows)}: {verdict}"
        )
    typer.echo(f"  {result['passing']} of {len(result['picks'])} picks pass")


def _fixed_parts(items: list[str] | None) -> dict[str, str]:
    """``["widen=trend", "stop=momentum"]`` (or comma-separated) → ``{"widen": "trend", ...}``."""
    # start-up time: `autotts --help` imports every command module; the optimizer's modules load
    # with `optimize`
    from autotts.controllers.composable import PART_CHOICES
    from autotts.discovery.optimizer.space import DEPTHS

    choices = {**PART_CHOICES, "depth": DEPTHS}
    fixed: dict[str, str] = {}
    for item in split_names(items):
        slot, sep, part = item.partition("=")
        if not sep:
            raise UsageError(f"--fix-parts takes SLOT=PART, got {item!r}")
        if slot not in choices:
            raise UnknownName("part slot", slot, choices)
        if part not in choices[slot]:
            raise UnknownName(f"{slot} part", part, choices[slot])
        fixed[slot] = part
    return fixed


# The docstring is the command's help: its "\\[" keeps the help renderer from reading
# "[optimize]" as a style tag (and dropping it).
def optimize_command(
    out: Path = typer.Option(..., "--out", "-o", help="Run directory (created; see --resume)."),
    resume: bool = typer.Option(False, "--resume", help="Continue the run in --out."),
    data: str | None = typer.Option(None, "--data", "-d", help=DATA_HELP),
    models: list[str] | None = typer.Option(
        None, "--models", help="Models of the search and held-out sets (default: all four)."
    ),
    search_models: list[str] | None = typer.Option(
        None, "--search-models", help="Models the search runs on (default: --models)."
    ),
    heldout_models: list[str] | None = typer.Option(
        None,
        "--heldout-models",
        help="Models of the held-out set (default: --models); one not searched is held out "
        "on the search benchmarks too.",
    ),
    search_benchmarks: list[str] | None = typer.Option(
        None, "--search-benchmarks", help="Search set benchmarks (default: aime24)."
    ),
    heldout_benchmarks: list[str] | None = typer.Option(
        None, "--heldout-benchmarks", help="Held-out benchmarks (default: aime25, hmmt25)."
    ),
    sampler: str = typer.Option("tpe", "--sampler", help="tpe, cmaes, nsga2 or random."),
    seed: int = typer.Option(0, "--seed", help="Sampler seed (worker w uses seed*1000+w)."),
    time_budget: float | None = typer.Option(
        None, "--time-budget", help="Seconds of search (default 1800; with --resume: more)."
    ),
    replay_seeds: int = typer.Option(
        10, "--replay-seeds", min=1, help="Reference-protocol shuffle seeds during the search."
    ),
    search_seeds: int = typer.Option(
        1,
        "--search-seeds",
        min=1,
        help="Independent searches (seeds --seed … --seed+N-1) sharing the time budget; the "
        "winner is the pick with the best objective on all search questions at 100 seeds.",
    ),
    betas: str = typer.Option("0,0.25,0.5,0.75,1", "--betas", help="β grid of every trial."),
    workers: int | None = typer.Option(
        None, "--workers", "-w", min=1, help="Trial processes. Default: every core; -w lowers it."
    ),
    trials_per_round: int = typer.Option(25, "--trials-per-round", min=1, help="Trials a round."),
    patience: int = typer.Option(
        400,
        "--patience",
        min=1,
        help="Stop a search (stage) when its selected trial is unchanged for this many trials.",
    ),
    part_penalty: float = typer.Option(
        0.1, "--part-penalty", min=0.0, help="Accuracy points charged per active part."
    ),
    objective: str = typer.Option(
        "cv",
        "--objective",
        help="cv: 5-fold cross-validation over all search questions (each fold read at the β "
        "the others choose); split: fit questions, winner by held-back validation questions "
        "(split seeded by --seed); bootstrap: all questions, 25th percentile of a question "
        "bootstrap.",
    ),
    metric: str = typer.Option(
        "two-point",
        "--metric",
        help="two-point: gains at CMC's β=0.5 and β=1.0 budgets; auc: area over CMC's whole "
        "token range (curves that stop short penalised).",
    ),
    staged: bool = typer.Option(
        True,
        "--staged/--joint",
        help="Structure first (40 % of the time), then its knobs; or both together.",
    ),
    fix_parts: list[str] | None = typer.Option(
        None, "--fix-parts", help="Hold parts fixed, e.g. widen=trend,prune=pool."
    ),
    export: Path | None = typer.Option(None, "--export", help="Write the winner's file here."),
    heldout: bool = typer.Option(
        True, "--heldout/--no-heldout", help="Evaluate the winner on the held-out files."
    ),
    heldout_seeds: int = typer.Option(100, "--heldout-seeds", min=1, help="Held-out seeds."),
    plot: Path | None = typer.Option(None, "--plot", help="Held-out curves vs CMC and SC."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress lines."),
    every_pick: bool = typer.Option(
        False,
        "--every-pick",
        help="After the winner's held-out evaluation, evaluate every search's pick on the "
        "held-out files too (heldout_picks.json): how many of the --search-seeds searches "
        "found a controller that beats CMC. A report only: never used to choose.",
    ),
) -> None:
    """Search composed controllers and their β schedules with a numerical optimiser (Optuna).

    Objective (search set only): accuracy gain over CMC at CMC's β=0.5 and β=1.0 token
    budgets (or over its whole token range), read robustly (cross-validation by default);
    the selection rule is written into run.json before the first trial, and held-out
    files are read once, after selection. Needs: pip install 'autotts\\[optimize]'.

    Example: autotts optimize --out run --time-budget 1800
    --export winner.py
    """
    optimize(
        out,
        resume=resume,
        data=data,
        models=models,
        search_benchmarks=search_benchmarks,
        heldout_benchmarks=heldout_benchmarks,
        search_models=search_models,
        heldout_models=heldout_models,
        sampler=sampler,
        seed=seed,
        time_budget=time_budget,
        replay_seeds=replay_seeds,
        search_seeds=search_seeds,
        betas=betas,
        workers=workers,
        trials_per_round=trials_per_round,
        patience=patience,
        part_penalty=part_penalty,
        objective=objective,
        metric=metric,
        staged=staged,
        fix_parts=fix_parts,
        export=export,
        heldout=heldout,
        heldout_seeds=heldout_seeds,
        plot=plot,
        quiet=quiet,
        every_pick=every_pick,
    )
