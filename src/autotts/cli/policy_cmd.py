"""``autotts policy-search``: train a Beta policy (or search its weights with TPE / CMA-ES)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from autotts.cli.common import DATA_HELP, split_names

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    app.command("policy-search")(policy_search_command)


def policy_search_command(
    out: Path = typer.Option(..., "--out", "-o", help="Folder for run.json, policy.json, ..."),
    data: str | None = typer.Option(None, "--data", "-d", help=DATA_HELP),
    models: list[str] | None = typer.Option(None, "--models", help="Models (default: all)."),
    search_benchmarks: list[str] | None = typer.Option(
        None, "--search-benchmarks", help="Search set benchmarks (default: aime24)."
    ),
    heldout_benchmarks: list[str] | None = typer.Option(
        None, "--heldout-benchmarks", help="Held-out benchmarks (default: aime25, hmmt25)."
    ),
    method: str = typer.Option(
        "reinforce", "--method", help="reinforce (score-function gradient), tpe or cmaes."
    ),
    budget: int = typer.Option(
        48_000, "--budget", min=1, help="Episode evaluations the search may spend."
    ),
    k: int = typer.Option(4, "--k", min=2, help="Episodes per question and β in one draw."),
    seed: int = typer.Option(0, "--seed", help="Seed of the draws and of the method."),
    estimator: str = typer.Option(
        "beta", "--estimator", help="reinforce: 'beta' (score of the Beta draw) or 'bernoulli'."
    ),
    lr: float = typer.Option(0.2, "--lr", min=0.0, help="reinforce: Adam step size."),
    price_high: float = typer.Option(
        0.02, "--price-high", help="Accuracy (0-1) one 100k tokens cost at β = 0."
    ),
    price_low: float = typer.Option(0.001, "--price-low", help="... and at β = 1."),
    export: Path | None = typer.Option(None, "--export", help="Write the policy's file here."),
    heldout: bool = typer.Option(
        True, "--heldout/--no-heldout", help="Then evaluate it on the held-out files vs CMC."
    ),
    heldout_seeds: int = typer.Option(20, "--heldout-seeds", min=1, help="Held-out seeds."),
) -> None:
    """Search a Beta policy: per-step stop / branch probabilities drawn from Beta
    distributions of the episode state, trained on the search files, exported as a
    deterministic controller file.

    The selection rule is written to OUT/run.json before the search starts; the
    held-out files are read only after OUT/policy.json exists. Needs for tpe / cmaes:
    pip install 'autotts\\[optimize]'.

    Example: autotts policy-search --out pol --budget 48000 --export policy.py
    """
    # start-up time of `autotts --help`: the search (NumPy, SciPy) loads when it runs
    from autotts.cli.common import check_output_dir, check_output_file, data_refs
    from autotts.discovery.policy.export import render_policy_file
    from autotts.discovery.policy.search import (
        METHODS,
        SELECTION_RULE,
        Reward,
        SearchEpisodes,
        run_method,
        select,
    )
    from autotts.errors import UnknownName, UsageError
    from autotts.evaluation.jobs import load_data
    from autotts.extras import require

    if method not in METHODS:
        raise UnknownName("method", method, METHODS)
    if method != "reinforce":
        require("optimize", f"--method {method}", "optuna")
    check_output_dir(out, "--out")
    check_output_file(export, "--export")
    if (out / "run.json").exists():
        raise UsageError(f"{out} already holds a policy search; choose a new --out")
    wanted = split_names(models) or None
    search = data_refs(data, wanted, split_names(search_benchmarks) or ["aime24"])
    held = data_refs(data, wanted, split_names(heldout_benchmarks) or ["aime25", "hmmt25"])
    reward = Reward(price_high, price_low)
    out.mkdir(parents=True, exist_ok=True)
    settings: dict[str, Any] = {
        "method": method, "budget": budget, "k": k, "seed": seed, "estimator": estimator,
        "lr": lr, "reward": {"price_high": price_high, "price_low": price_low},
        "selection_rule": SELECTION_RULE,
        "search": [f"{r.model}/{r.benchmark}" for r in search],
        "heldout": [f"{r.model}/{r.benchmark}" for r in held] if heldout else [],
    }  # fmt: skip
    (out / "run.json").write_text(json.dumps(settings, indent=2), encoding="utf-8")
    episodes = SearchEpisodes([load_data(r) for r in search], seeds=100)
    result = run_method(
        method, episodes, reward, budget, k=k, seed=seed, estimator=estimator, lr=lr
    )
    theta, scores, used = select(episodes, reward, result.candidates)
    policy = {
        "theta": theta.tolist(),
        "episodes": result.episodes,
        "seconds": result.seconds,
        "selection_scores": scores,
        "selection_episodes": used,
        "progress": result.progress,
    }
    (out / "policy.json").write_text(json.dumps(policy, indent=2), encoding="utf-8")
    typer.echo(
        f"{method}: {result.episodes} episode evaluations in {result.seconds:.0f} s; "
        f"selected reward {max(scores):.4f} on the search files"
    )
    if export is not None:
        provenance = {key: settings[key] for key in ("method", "budget", "seed", "search")}
        export.write_text(
            render_policy_file(theta, "TrainedPolicy", "beta-policy", provenance),
            encoding="utf-8",
        )
        typer.echo(f"exported the policy to {export} (class TrainedPolicy)", err=True)
    if not heldout:
        return
    # start-up time: the held-out evaluation loads only when asked for
    from autotts.discovery.policy.heldout import (
        CMC_POINTS,
        cmc_curve,
        curve_means,
        operating_points,
        policy_curve,
    )

    betas = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)
    search_cmc = cmc_curve(search, CMC_POINTS, heldout_seeds)
    held_cmc = cmc_curve(held, sorted({*betas, *CMC_POINTS}), heldout_seeds)
    search_curve = policy_curve(theta, search, betas, heldout_seeds)
    held_curve = policy_curve(theta, held, betas, heldout_seeds)
    points = operating_points(search_curve, search_cmc, held_curve, held_cmc, held)
    report = {
        "seeds": heldout_seeds,
        "policy": curve_means(held_curve),
        "cmc": curve_means(held_cmc),
        "operating_points": points,
    }
    (out / "heldout.json").write_text(json.dumps(report, indent=2), encoding="utf-8")
    typer.echo(
        f"held-out (mean over {len(held)} files, {heldout_seeds} seeds; 95 % paired "
        "bootstrap intervals, questions drawn jointly across models):"
    )
    for p in points:
        typer.echo(
            f"  at CMC β={p['cmc_beta']:g} ({p['cmc_accuracy']:.2f}% at "
            f"{p['cmc_tokens'] / 1000:.1f}k): policy β={p['beta']:g} {p['accuracy']:.2f}% at "
            f"{p['tokens'] / 1000:.1f}k, gain {p['gain']:+.2f} "
            f"[{p['ci95'][0]:+.2f}, {p['ci95'][1]:+.2f}]"
        )
