"""``autotts explain``: see what a controller did, one episode or a whole trace file."""

from __future__ import annotations

from pathlib import Path

import typer

from autotts.cli.common import progress_bar, write_output
from autotts.errors import UsageError
from autotts.report.trace_view import (
    episode_label,
    episode_stats,
    episode_view,
    find_episode,
    iter_episodes,
    parse_episode_key,
)


def register(app: typer.Typer) -> None:
    app.command("explain")(explain_command)


def explain_command(
    traces: Path = typer.Argument(
        ...,
        help="A trace file written by 'autotts eval ... --traces FILE'.",
        show_default=False,
        metavar="TRACES.jsonl",
    ),
    episode: str | None = typer.Option(
        None,
        "--episode",
        help="QUESTION or QUESTION:REPLICATE (question index, replicate); default: the "
        "file's first episode.",
    ),
    summary: bool = typer.Option(
        False, "--summary", help="Summarise every episode instead: tokens, stop reasons."
    ),
    out: Path | None = typer.Option(
        None, "--out", help="Write the picture here (.png, .svg or .pdf)."
    ),
    quiet: bool = typer.Option(False, "--quiet", help="No progress bar."),
) -> None:
    """Draw one episode as a timeline, or summarise a trace file.

    Episode picture: branches as rows in opening order, the x axis the episode's
    cumulative tokens; each read is a mark coloured by the answer it revealed
    (gold green, a wrong returned answer red), squares are final answers,
    crosses are dropped branches, the dashed line is the stop and the
    controller's reason is printed beneath. Above the rows: the signal the
    controller stops on (CMC's confidence and its EMA, ASC's confidence,
    Parallel-Probe's stable-majority count) against its threshold.

    Summary: where the tokens went (width: branches opened; depth: tokens per
    branch; share on branches that finished, were dropped or were still running),
    why episodes stopped and the accuracy of each stop reason.

    Example: autotts eval --data synthetic -c cmc --traces t.jsonl --seeds 2 &&
    autotts explain t.jsonl --episode 3:0 --out episode.png
    """
    if summary:
        if episode is not None:
            raise UsageError("choose one of --episode and --summary")
        _summary(traces, out, quiet)
        return
    question, replicate = parse_episode_key(episode) if episode else (None, None)
    view = episode_view(find_episode(traces, question, replicate))
    reads = sum(len(b.reads) for b in view.branches)
    dropped = sum(b.pruned_at is not None for b in view.branches)
    verdict = {True: "correct", False: "wrong", None: "unscored"}[view.correct]
    lines = [
        f"{view.label}: question {view.question}, replicate {view.replicate}",
        f"  answer {view.answer!r}, gold {view.gold!r}: {verdict}",
        f"  {len(view.branches)} branches ({dropped} dropped), {reads} reads, "
        f"{view.tokens:,.0f} tokens",
        f"  stop ({view.stop_reason}): {view.stop_decision}",
    ]
    confidences = [r.confidence for b in view.branches for r in b.reads if r.confidence is not None]
    if confidences:  # only data with probe confidences has them
        lines.append(
            f"  probe confidence: {len(confidences)} reads, mean "
            f"{sum(confidences) / len(confidences):.3f}, lowest {min(confidences):.3f}"
        )
    if view.checks:  # the controller's last decisions before it stopped
        lines.append("  last decisions:")
        lines += [f"    at {tokens:>9,.0f} tokens: {text}" for tokens, text in view.checks[-3:]]
    write_output("\n".join(lines) + "\n", None)
    if out is not None:
        # the plot extra (matplotlib), only for --out
        from autotts.report.timeline import draw_timeline

        layout = draw_timeline(view, out)
        typer.echo(f"wrote {out} ({layout.rows} branch rows)", err=True)


def _summary(traces: Path, out: Path | None, quiet: bool) -> None:
    # start-up time: `autotts --help` imports every command module; the trace summary loads with
    # --summary
    from autotts.report.trace_summary import draw_summary, render_summary, summarise

    if out is not None:
        # the plot extra (matplotlib), only for --out
        from autotts.report.plots import check_figure_path

        check_figure_path(out, "--out")
    size = traces.stat().st_size if traces.is_file() else 0
    stats = []
    label = ""
    with progress_bar(size, "reading traces", not quiet and size > 1 << 24) as advance:
        for row in iter_episodes(traces, lambda done: advance(completed=done)):
            label = label or episode_label(row)
            stats.append(episode_stats(row))
    result = summarise(stats, label)
    write_output(render_summary(result), None)
    if out is not None:
        draw_summary(result, stats, out)
        typer.echo(f"wrote {out}", err=True)
