"""Live commands: ``replay-server``, ``collect``, ``serve`` (need the ``live`` extra)."""

from __future__ import annotations

from pathlib import Path

import typer

from autotts.cli.common import DATA_HELP, data_refs, stderr

__all__ = ["register"]


def replay_server(
    model: str = typer.Option(..., "--model", "-m", help="Model whose replay files to serve."),
    data: str | None = typer.Option(None, "--data", "-d", help=DATA_HELP),
    benchmark: list[str] | None = typer.Option(
        None, "--benchmark", "-B", help="Serve only these benchmarks of the model (repeatable)."
    ),
    name: str | None = typer.Option(
        None, "--served-name", help="Model name clients ask for (default: --model)."
    ),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
    port: int = typer.Option(8001, "--port", help="Port to listen on."),
) -> None:
    """Serve stored trajectories as an OpenAI-compatible completions server.

    The i-th sample requested for a question is its i-th stored branch (or branch
    'seed mod N' when a request gives a seed); a probe of a prefix returns the
    stored probe answer; usage reports the stored token counts. The trajectories
    have no text, so each token is a stand-in word ' §branch.position'.
    """
    # start-up time: `autotts --help` imports every command module; the live extra's modules load
    # with the command that serves
    from autotts.evaluation.jobs import load_data
    from autotts.live.http import run_app
    from autotts.live.replay_model import ReplayModel
    from autotts.live.replay_server import replay_app

    refs = data_refs(data, [model], benchmark)
    replays = [load_data(ref) for ref in refs]
    served = ReplayModel(replays, name or model)
    stderr.print(
        f"replay server for {served.name}: {served.questions} questions from "
        f"{', '.join(r.benchmark for r in refs)} on http://{host}:{port}/v1",
        markup=False,  # names, not markup
    )
    run_app(replay_app(served), host, port)


def collect(
    base_url: str = typer.Option(..., "--base-url", help="Server root, e.g. http://host:8000/v1"),
    model: str = typer.Option(..., "--model", "-m", help="Model name the server knows."),
    questions: Path = typer.Option(..., "--questions", help="Questions: .jsonl, .csv or .json."),
    out: Path = typer.Option(..., "--out", "-o", help="Replay file to write (upstream JSON)."),
    n: int = typer.Option(128, "--n", help="Trajectories per question."),
    delta: int = typer.Option(500, "--delta", help="Δ: tokens between two probes."),
    max_tokens: int = typer.Option(49152, "--max-tokens", help="Longest trajectory, in tokens."),
    question_field: str = typer.Option("question", "--question-field", help="Question field."),
    answer_field: str = typer.Option("answer", "--answer-field", help="Reference answer field."),
    template: str = typer.Option(
        "auto",
        "--template",
        help="Prompt: 'plain', 'chatml', a text with {question}, or 'auto' (chatml for "
        "instruct/chat models by their name, else plain).",
    ),
    temperature: float = typer.Option(0.7, "--temperature", help="Sampling temperature."),
    top_p: float = typer.Option(1.0, "--top-p", help="Nucleus sampling mass."),
    probe_tokens: int = typer.Option(24, "--probe-tokens", help="Tokens decoded per probe."),
    logprobs: bool = typer.Option(
        True, "--logprobs/--no-logprobs", help="Ask probes for log-probabilities (side file)."
    ),
    seed_base: int = typer.Option(0, "--seed-base", help="Trajectory i is sampled with seed+i."),
    concurrency: int = typer.Option(8, "--concurrency", help="Requests in flight at most."),
    retries: int = typer.Option(4, "--retries", help="Retries (with back-off) on 429/5xx."),
    timeout: float = typer.Option(600.0, "--timeout", help="Seconds per request."),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Print what it would cost; call nothing."
    ),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing --out file."),
) -> None:
    """Sample N trajectories per question from an OpenAI-compatible server, probe them every
    Δ tokens and write a replay file (plus OUT.side.jsonl with richer signals).

    Interrupted runs resume from OUT.partial.jsonl without redoing finished questions.
    """
    # start-up time: `autotts --help` imports every command module; the live extra's modules
    # (openai) load with `collect`
    import asyncio
    import time

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from autotts.errors import UsageError
    from autotts.live.client import CompletionClient, Sampling
    from autotts.live.collector import CollectPlan, estimate
    from autotts.live.collector import collect as run_collect
    from autotts.live.questions import load_questions

    items = load_questions(questions, question_field=question_field, answer_field=answer_field)
    plan = CollectPlan(n, delta, max_tokens, template, seed_base)
    if dry_run:
        est = estimate(items, plan, probe_tokens)
        typer.echo(
            f"{est.questions} questions x {n} trajectories: at most {est.max_calls:,} requests "
            f"and {est.max_generated_tokens:,} generated tokens (every trajectory at "
            f"--max-tokens {max_tokens}, probed every {delta})"
        )
        return
    if out.exists() and not overwrite:
        raise UsageError(f"{out} exists; pass --overwrite to replace it")
    sampling = Sampling(temperature, top_p, probe_tokens, probe_logprobs=logprobs)

    async def main() -> int:
        client = CompletionClient(
            base_url,
            model,
            sampling,
            concurrency=concurrency,
            timeout=timeout,
            max_retries=retries,
        )
        start, tokens = time.monotonic(), [0]
        columns = (
            TextColumn("{task.description}", markup=False),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("{task.fields[rate]}"),
        )
        try:
            with Progress(*columns, console=stderr, transient=True) as progress:
                task = progress.add_task("questions", total=len(items), rate="")

                def on_tokens(count: int) -> None:
                    tokens[0] += count
                    rate = tokens[0] / max(time.monotonic() - start, 1e-9)
                    progress.update(task, rate=f"{tokens[0]:,} tokens, {rate:,.0f} tok/s")

                def on_question(done: int, total: int) -> None:
                    progress.update(task, completed=done)

                return await run_collect(
                    client, items, plan, out, on_tokens=on_tokens, on_question=on_question
                )
        finally:
            await client.close()

    sampled = asyncio.run(main())
    typer.echo(f"wrote {out} ({len(items)} questions, {sampled} sampled now)", err=True)


def serve(
    upstream: str = typer.Option(
        ..., "--upstream", help="Model server root, e.g. http://h:8000/v1"
    ),
    model: str = typer.Option(..., "--model", "-m", help="Upstream model name."),
    controller: str = typer.Option(
        "cmc", "--controller", "-c", help="Registry name or file.py:Class."
    ),
    beta: float = typer.Option(0.5, "--beta", "-b", help="Default β (requests may send 'beta')."),
    served_name: str | None = typer.Option(
        None, "--served-name", help="Model name clients ask for (default: --model)."
    ),
    template: str = typer.Option(
        "plain", "--template", help="Prompt: 'plain', 'chatml' or a text with {question}."
    ),
    delta: int = typer.Option(500, "--delta", help="Δ: tokens per chunk between probes."),
    pool: int = typer.Option(
        128, "--pool", help="Branches a request may open at most: the pool their seeds come from."
    ),
    max_tokens: int = typer.Option(32768, "--max-tokens", help="Longest branch, in tokens."),
    max_tokens_per_request: int | None = typer.Option(
        None,
        "--max-tokens-per-request",
        help="Hard cap on the completion tokens one request spends upstream (chunks, probes, "
        "read-ahead): the default, and the most a request may ask for with "
        "'max_completion_tokens' (or 'max_tokens'). Default: no cap.",
    ),
    max_branches: int | None = typer.Option(
        None,
        "--max-branches",
        help="Cap on the branches one request opens: the default, and the most a request "
        "may ask for with 'max_branches'. Default: --pool.",
    ),
    temperature: float = typer.Option(0.7, "--temperature", help="Sampling temperature."),
    probe_tokens: int = typer.Option(24, "--probe-tokens", help="Tokens decoded per probe."),
    logprobs: bool = typer.Option(
        True,
        "--logprobs/--no-logprobs",
        help="Ask probes for log-probabilities, so session.probe_confidence() has a value "
        "(turn off for a server that refuses 'logprobs').",
    ),
    timeout: float = typer.Option(600.0, "--timeout", help="Seconds per request at most."),
    max_concurrent: int = typer.Option(4, "--max-concurrent", help="Requests solved at once."),
    upstream_concurrency: int = typer.Option(
        16, "--upstream-concurrency", help="Upstream requests in flight at most."
    ),
    prefetch: bool = typer.Option(
        True, "--prefetch/--no-prefetch", help="Decode read branches ahead, concurrently."
    ),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
    port: int = typer.Option(8000, "--port", help="Port to listen on."),
    trust: bool = typer.Option(
        False,
        "--trust",
        help="Run a controller file in this process, outside the sandbox: for code you "
        "wrote yourself. Without it, a controller file runs in sandboxed workers and its "
        "session reads are forwarded to this process.",
    ),
) -> None:
    """Serve a controller over an upstream model as an OpenAI-compatible chat endpoint.

    POST /v1/chat/completions answers with the controller's final answer, 'usage'
    counting every upstream token and an extra 'autotts' object; send 'beta' in the
    body to change β per request, 'seed' for reproducible sampling. With "stream": true
    the reply is OpenAI's server-sent chunks: progress while the controller works, the
    answer when it stops. A request past its token cap is stopped and answered with the
    majority of what its branches showed (finish_reason 'length'); the 'autotts' object
    reports the caps and whether they were hit.
    """
    # start-up time: `autotts --help` imports every command module; the live extra's modules
    # (starlette) load with `serve`
    from autotts.live.client import Sampling
    from autotts.live.http import run_app
    from autotts.live.serving import ServeConfig, serve_app

    config = ServeConfig(
        upstream=upstream,
        model=model,
        controller=controller,
        beta=beta,
        served_name=served_name,
        template=template,
        delta=delta,
        pool_size=pool,
        max_tokens=max_tokens,
        timeout=timeout,
        max_concurrent=max_concurrent,
        upstream_concurrency=upstream_concurrency,
        prefetch=prefetch,
        sampling=Sampling(
            temperature=temperature, probe_tokens=probe_tokens, probe_logprobs=logprobs
        ),
        trusted=trust,
        max_tokens_per_request=max_tokens_per_request,
        max_branches=max_branches,
    )
    app = serve_app(config)
    stderr.print(
        f"serving {controller} (β={beta:g}) over {upstream} on http://{host}:{port}/v1",
        markup=False,  # a controller file's path, not markup
    )
    run_app(app, host, port)


def register(app: typer.Typer) -> None:
    app.command("replay-server")(replay_server)
    app.command("collect")(collect)
    app.command("serve")(serve)
