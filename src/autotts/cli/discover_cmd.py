"""``autotts discover`` and ``autotts report``."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import typer

from autotts.cli.common import DATA_HELP, all_cores, parse_betas, split_names
from autotts.cli.executor_opt import ADDRESS, EXECUTOR, executor_scope
from autotts.cli.interpreter_opt import INTERPRETER
from autotts.data.catalog import SYNTHETIC
from autotts.data.refs import data_refs
from autotts.errors import UnknownName, UsageError

_KIND_HELP = (
    "scripted (--candidates DIR: the folder's files in name order), openai (any "
    "OpenAI-compatible endpoint), anthropic (Messages API), agent (--agent-cmd) or optimizer "
    "(no LLM: --search-time seconds of numerical search before each round, then the best "
    "trial not proposed before; --seed is its sampler's seed)."
)


def register(app: typer.Typer) -> None:
    app.command("discover")(discover_command)
    app.command("report")(report_command)


class _Printer:
    """One terminal line per event: round, phase, candidate, verdict, best so far, money."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet
        self.last_tick = 0.0
        self.last_stream = 0.0
        self.money = 0.0
        self.best = "none yet"

    def __call__(self, e: dict[str, Any]) -> None:
        if self.quiet:
            return
        phase = e["phase"]
        where = f"round {e['round']}/{e['rounds']}" if "round" in e and "rounds" in e else ""
        if phase == "propose" and {"prompt_tokens", "retry", "tokens", "trials"} & e.keys():
            self._propose(where, e)
        elif phase in ("baselines", "evaluate", "heldout") and "done" in e:
            now = time.monotonic()
            if e["done"] != e["total"] and now - self.last_tick < 2.0:
                return
            self.last_tick = now
            self._line(where, phase, f"{e['done']}/{e['total']} evaluations")
        elif phase == "check" and "verdict" in e:
            reason = f" ({e['reason']})" if e.get("reason") else ""
            self._line(where, phase, f"{e['name']}: {e['verdict']}{reason}")
        elif phase == "recorded":
            self.money = float(e.get("money_total", 0.0))
            best = e.get("best")
            if best:
                self.best = _describe_best(best)
            why = ""
            if e["verdict"] != "accepted" and e.get("detail"):
                why = f" ({e['reason']}: {e['detail']})"
            self._line(where, phase, f"{e['name']}: {e['verdict']}{why}")
        elif phase == "select":
            s = e["selection"]
            text = (
                "no accepted round"
                if s.get("round") is None
                else (f"round {s['round']} ({s.get('name')}) β={s['beta']:g} by {s['rule']}")
            )
            self._line("", phase, text)
        elif phase == "stop":
            self._line(where, phase, e["reason"])
        elif phase == "done":
            self._line("", phase, f"run in {e['run']}; 'autotts report {e['run']}' writes the page")
        else:
            detail = e.get("name") or (f"β={e['beta']:g}" if "beta" in e else "")
            self._line(where, phase, str(detail))

    def _propose(self, where: str, e: dict[str, Any]) -> None:
        """The proposer at work: the fitted prompt, retries, the reply as it streams in, the
        optimizer's trials."""
        if "prompt_tokens" in e:
            self.last_stream = 0.0  # a new request: its first piece is shown at once
            window = f" of a {e['window']:,}-token window" if e.get("window") else ""
            cut = f"; {e['cut']}" if e.get("cut") else ""
            text = (
                f"prompt {e['prompt_tokens']:,} tokens ({e['counted_by']}){window}, "
                f"up to {e['max_tokens']:,} to answer{cut}"
            )
        elif "trials" in e:  # the optimizer's search before its proposal
            now = time.monotonic()
            if now - self.last_stream < 5.0:
                return
            self.last_stream = now
            text = (
                f"searching: {e['trials']:,} trials after {e['seconds']:.0f} s "
                f"({e['budget']:g} s of trials once its processes have started)"
            )
        elif "retry" in e:
            text = f"retry {e['retry']}/{e['of']} in {e['wait']:.0f} s after {e['error']}"
        elif "tokens" in e:
            now = time.monotonic()
            if not e.get("done") and now - self.last_stream < 5.0:
                return
            self.last_stream = now
            state = "reply received" if e.get("done") else "receiving"
            text = f"{state}: {e['tokens']:,} tokens in {e['seconds']:.0f} s"
        else:
            return
        self._line(where, "propose", text)

    def _line(self, where: str, phase: str, text: str) -> None:
        head = f"{where:>11s} · {phase:<9s}" if where else f"{'':>11s} · {phase:<9s}"
        typer.echo(f"{head} {text}  | best: {self.best} | spent ${self.money:.4f}", err=True)


def discover_command(
    ctx: typer.Context,
    out: Path = typer.Option(..., "--out", "-o", help="Run directory (created; see --resume)."),
    resume: bool = typer.Option(False, "--resume", help="Continue the run in --out."),
    proposer: str = typer.Option("scripted", "--proposer", "-P", help=_KIND_HELP),
    candidates: Path | None = typer.Option(None, "--candidates", help="scripted: folder of files."),
    class_name: str | None = typer.Option(
        None, "--class", help="scripted: the candidate class where a file defines several."
    ),
    rounds: int = typer.Option(5, "--rounds", "-r", min=1, help="Rounds to run."),
    data: str | None = typer.Option(None, "--data", "-d", help=DATA_HELP),
    models: list[str] | None = typer.Option(
        None,
        "--models",
        help="Models of the search and the held-out set (default: the four public ones, else "
        "all in the store).",
    ),
    search_models: list[str] | None = typer.Option(
        None,
        "--search-models",
        help="Models the search runs on (default: --models). With --heldout-models, a "
        "transfer run: the selection is evaluated on models the search never saw; "
        "transfer.json holds it per model × benchmark.",
    ),
    heldout_models: list[str] | None = typer.Option(
        None,
        "--heldout-models",
        help="Models of the held-out set (default: --models); a model not searched is held "
        "out on the search benchmarks too.",
    ),
    search_benchmarks: list[str] | None = typer.Option(
        None, "--search-benchmarks", help="Search set benchmarks (default: aime24)."
    ),
    heldout_benchmarks: list[str] | None = typer.Option(
        None, "--heldout-benchmarks", help="Held-out benchmarks (default: aime25, hmmt25)."
    ),
    betas: str = typer.Option("0:1:0.1", "--betas", help="β grid: start:stop:step or a list."),
    protocol: str = typer.Option("reference", "--protocol", help="reference or subsample."),
    seeds: int = typer.Option(100, "--seeds", min=1, help="reference: shuffle seeds."),
    draws: int = typer.Option(20, "--draws", min=2, help="subsample: random pools."),
    size: int = typer.Option(64, "--size", min=1, help="subsample: branches per pool."),
    seed: int = typer.Option(
        0, "--seed", help="subsample: seed of the draws; optimizer: its sampler's seed."
    ),
    heldout_seeds: int = typer.Option(
        100, "--heldout-seeds", min=1, help="Seeds of the held-out evaluation (reference)."
    ),
    select: str = typer.Option(
        "accuracy", "--select", help="accuracy (best search-set accuracy) or auc."
    ),
    max_cost: float | None = typer.Option(
        None,
        "--max-cost",
        help="No new round once proposer spending ($) reaches this (across resumes).",
    ),
    max_time: float | None = typer.Option(
        None, "--max-time", help="No new round after this many seconds of rounds (across resumes)."
    ),
    workers: int | None = typer.Option(
        None, "--workers", "-w", min=1, help="Evaluation processes. Default: every core."
    ),
    race: bool = typer.Option(
        False,
        "--race",
        help="Evaluate each candidate's curve in seed blocks and stop once it clearly cannot "
        "beat the best round so far (the rule is in run.json; a stopped round keeps its "
        "partial curve and is never selected).",
    ),
    no_trace_digest: bool = typer.Option(
        False,
        "--no-trace-digest",
        help="Ablation: the proposer sees the curves but no execution-trace digest (none is "
        "computed, of the baselines or of the rounds).",
    ),
    no_beta: bool = typer.Option(
        False,
        "--no-beta",
        help="Ablation: the proposer is told to write one fixed setting with no β knob; each "
        "candidate is evaluated at one point (β=1, which it ignores) instead of a β sweep, "
        "and the check's monotonicity test is skipped.",
    ),
    executor: str = EXECUTOR,
    address: str | None = ADDRESS,
    interpreter: str = INTERPRETER,
    llm_model: str | None = typer.Option(None, "--llm-model", help="openai/anthropic: model."),
    base_url: str | None = typer.Option(None, "--base-url", help="openai/anthropic: endpoint."),
    api_key_env: str | None = typer.Option(
        None,
        "--api-key-env",
        help="Variable holding the key (default OPENAI_API_KEY / ANTHROPIC_API_KEY).",
    ),
    price_in: float | None = typer.Option(None, "--price-in", help="$ per million input tokens."),
    price_out: float | None = typer.Option(
        None, "--price-out", help="$ per million output tokens."
    ),
    prices: Path | None = typer.Option(
        None,
        "--prices",
        help="openai/anthropic: JSON price table {model: {input, output}} in $ per million "
        "tokens (default: the table shipped in autotts/discovery/prices.json).",
    ),
    context_budget: int | None = typer.Option(
        None, "--context-budget", help="Characters of history in a prompt (default 120000)."
    ),
    context_tokens: int | None = typer.Option(
        None,
        "--context-tokens",
        min=1,
        help="openai/anthropic: the model's context window in tokens, where the server does "
        "not report it (asked from /v1/models, llama.cpp's /props or Ollama's /api/show); "
        "the prompt is shortened to fit it.",
    ),
    completion_tokens: int | None = typer.Option(
        None,
        "--completion-tokens",
        min=1,
        help="openai/anthropic: most tokens a reply may take (default 16000; less when the "
        "context window has less room left).",
    ),
    llm_timeout: float | None = typer.Option(
        None,
        "--llm-timeout",
        min=0.001,
        help="openai/anthropic: seconds a reply may take in all (default 600); then the "
        "request is cancelled and the round fails.",
    ),
    stall_timeout: float | None = typer.Option(
        None,
        "--stall-timeout",
        min=0.001,
        help="openai: seconds without a new token before the request is cancelled and the "
        "round fails (default 120; prompt processing counts, so raise it for long prompts "
        "on slow hardware).",
    ),
    retries: int | None = typer.Option(
        None,
        "--retries",
        min=0,
        help="openai/anthropic: retries after a rate limit, server error or refused "
        "connection (default 4); a cancelled request is never retried.",
    ),
    critic: bool = typer.Option(
        False,
        "--critic",
        help="openai/anthropic: a second pass of the same model reviews each candidate "
        "against the rules and may correct it before evaluation.",
    ),
    search_time: float | None = typer.Option(
        None,
        "--search-time",
        min=0.001,
        help="optimizer: seconds of numerical search before each proposal (default 60), on "
        "--workers processes.",
    ),
    agent_cmd: str | None = typer.Option(
        None, "--agent-cmd", help="agent: command run in the round's workspace, e.g. 'claude -p'."
    ),
    agent_timeout: float | None = typer.Option(
        None, "--agent-timeout", help="agent: seconds before the command is killed (default 1800)."
    ),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress lines."),
) -> None:
    """Search for a controller: propose → check → evaluate → record, R rounds; then select
    and evaluate the selection on the held-out files against the baselines.

    Example: autotts discover --out run --data synthetic --candidates examples/candidates
    --betas 0,0.5,1 --seeds 5 --heldout-seeds 5
    """
    # start-up time: `autotts --help` imports every command module; discovery (Jinja2, the loop)
    # loads with `discover`
    from autotts.discovery.api import discover
    from autotts.evaluation.interpreters import resolve_interpreter

    workers = all_cores(workers)
    interpreter = resolve_interpreter(interpreter)
    printer = _Printer(quiet)
    recorded_options: dict[str, Any] = {}
    if resume:
        # A resume takes its settings from run.json; flags given again must agree with it.
        values = dict(locals())
        proposer, recorded_options = _resume_settings(ctx, out, values)
        candidates = recorded_options.get("candidates", candidates)
        class_name = recorded_options.get("class_name", class_name)
        llm_model = recorded_options.get("model", llm_model)
        base_url = recorded_options.get("base_url", base_url)
        api_key_env = recorded_options.get("api_key_env", api_key_env)
        price_in = recorded_options.get("price_in", price_in)
        price_out = recorded_options.get("price_out", price_out)
        context_budget = recorded_options.get("context_budget", context_budget)
        critic = bool(recorded_options.get("critic", critic))
        agent_cmd = recorded_options.get("command", agent_cmd)
        agent_timeout = recorded_options.get("timeout", agent_timeout)
        printer.best = _best_so_far(out)

    options: dict[str, Any] = {}
    if proposer == "scripted":
        options = {"candidates": candidates, "class_name": class_name}
    elif proposer in ("openai", "anthropic"):
        options = {
            "model": llm_model,
            "base_url": base_url,
            "api_key_env": api_key_env,
            "price_in": price_in,
            "price_out": price_out,
            "prices": prices,
            "critic": critic,
            "context_budget": context_budget,
            "context_tokens": context_tokens,
            "max_tokens": completion_tokens,
            "timeout": llm_timeout,
            "stall_timeout": stall_timeout,
            "retries": retries,
        }
    elif proposer == "agent":
        options = {"command": agent_cmd, "timeout": agent_timeout, "context_budget": context_budget}
    elif proposer == "optimizer":
        # a resume searches with the recorded settings, on this machine's --workers
        given = {"seconds": search_time, "seed": seed}
        options = {**(recorded_options if resume else given), "processes": workers}
    protocol_name = protocol
    if protocol_name not in ("reference", "subsample"):
        raise UnknownName("protocol", protocol_name, ["reference", "subsample"])
    try:
        with executor_scope(executor, address, workers) as chosen:
            run = discover(
                out,
                proposer=proposer,
                data=data,
                models=split_names(models) or None,
                search_benchmarks=split_names(search_benchmarks) or None,
                heldout_benchmarks=split_names(heldout_benchmarks) or None,
                search_models=split_names(search_models) or None,
                heldout_models=split_names(heldout_models) or None,
                no_trace_digest=no_trace_digest,
                no_beta=no_beta,
                betas=parse_betas(betas),
                protocol=protocol_name,
                seeds=seeds,
                protocol_extra={"draws": draws, "size": size, "seed": seed},
                rounds=rounds,
                select=select,
                max_cost=max_cost,
                max_time=max_time,
                heldout_seeds=heldout_seeds,
                resume=resume,
                workers=workers,
                executor=chosen,
                on_event=printer,
                race=race,
                interpreter=interpreter,
                **options,
            )
    except KeyboardInterrupt:
        typer.echo(
            f"stopped: finished rounds are kept; continue with --resume --out {out}", err=True
        )
        raise
    selection = run.selection()
    if selection is not None and selection.round is not None:
        number = selection.round
        typer.echo(
            f"selected round {number} ({selection.name}, rounds/{number:04d}) "
            f"at β={selection.beta:g}"
        )


def _resume_settings(
    ctx: typer.Context, out: Path, values: dict[str, Any]
) -> tuple[str, dict[str, Any]]:
    """The proposer kind and options recorded in ``out``'s run.json; a
    :class:`UsageError` naming every flag given on the command line that differs from
    the run's settings (they would otherwise be ignored)."""
    # start-up time: `autotts --help` imports every command module; discovery's modules load with
    # `discover`
    from autotts.discovery.rundir import RunDir
    from autotts.discovery.settings import proposer_options, resume_conflicts

    run = RunDir(out).settings()

    def recorded_form(name: str, value: Any) -> Any:
        if name == "betas":
            return parse_betas(value)
        if name in (
            "models",
            "search_models",
            "heldout_models",
            "search_benchmarks",
            "heldout_benchmarks",
        ):
            return split_names(value)
        if name == "data":
            store = data_refs(value)[0].store
            return store if store == SYNTHETIC else str(Path(store).resolve())
        return value

    given: dict[str, Any] = {}
    for param in ctx.command.params:
        name = param.name or ""
        source = ctx.get_parameter_source(name)
        # given by the user, not a default (typer vendors click: compare by name)
        if name in ("out", "resume") or getattr(source, "name", "") not in (
            "COMMANDLINE",
            "ENVIRONMENT",
        ):
            continue
        flag = next((o for o in param.opts if o.startswith("--")), name)
        given[flag] = recorded_form(name, values[name])
    conflicts = resume_conflicts(run, given)
    if conflicts:
        raise UsageError(
            f"{out} resumes with the settings in its run.json, and these flags differ: "
            f"{'; '.join(conflicts)}. Leave them out, or start a new run in another --out"
        )
    return proposer_options(run)


def _best_so_far(out: Path) -> str:
    """The printer's "best" of the rounds already in ``out`` (a resumed run, finished or
    not, has one before any new round is recorded)."""
    # start-up time: `autotts --help` imports every command module; discovery's modules load with
    # `discover`
    from autotts.discovery.rundir import RunDir
    from autotts.discovery.selection import select

    run = RunDir(out)
    best = select(run.index(), str(run.settings().get("select", "accuracy")))
    return "none yet" if best is None else _describe_best(best.to_dict())


def _describe_best(best: dict[str, Any]) -> str:
    return (
        f"round {best['round']} β={best['beta']:g} "  # rounds count from 1 everywhere
        f"acc {best['search_accuracy']:.2f} at {best['search_tokens'] / 1000:.1f}k"
    )


def report_command(
    runs: list[Path] = typer.Argument(
        ...,
        help="A run directory written by 'autotts discover'; several put those runs side by "
        "side (an ablation against its full run, say).",
        metavar="RUN",
        show_default=False,
    ),
    out: Path | None = typer.Option(
        None, "--out", "-o", help="Default: RUN/report.html (one run; several need --out)."
    ),
) -> None:
    """Write one self-contained HTML page about a discovery run, or about several side by
    side: their selections' curves on one chart, the settings that differ and their
    held-out results (the page opens offline).

    Example: autotts report full-run no-digest-run --out ablation.html
    """
    # start-up time: `autotts --help` imports every command module; the report (Jinja2) loads with
    # `report`
    from autotts.report.html import write_report
    from autotts.report.side_by_side import write_side_by_side

    if len(runs) == 1:
        path = write_report(runs[0], out)
    elif out is None:
        raise UsageError("several runs make one page: name it with --out, e.g. --out compare.html")
    else:
        path = write_side_by_side(runs, out)
    typer.echo(f"wrote {path}", err=True)
