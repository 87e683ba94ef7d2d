"""Across episodes of a trace file: where tokens go, why episodes stop, and how that ends.

``autotts explain TRACES --summary`` prints :func:`render_summary` and, with
``--out``, draws :func:`draw_summary`: width against depth per episode, the stop
reasons with their accuracy, and the share of tokens spent on branches that
finished, were dropped, or were still running at the stop.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from autotts.extras import needs
from autotts.report.plots import check_figure_path, pyplot, save_figure, short_number
from autotts.report.trace_view import EpisodeStats

__all__ = ["ReasonRow", "TraceSummary", "draw_summary", "render_summary", "summarise"]

SHARES = (
    ("tokens_finished", "branches that finished", "#1a9850"),
    ("tokens_pruned", "branches dropped", "#d73027"),
    ("tokens_open", "branches still running at the stop", "#fdae61"),
)


@dataclass(frozen=True)
class ReasonRow:
    reason: str
    episodes: int
    accuracy: float  # percent
    tokens: float  # mean per episode


@dataclass(frozen=True)
class TraceSummary:
    label: str
    episodes: int
    accuracy: float
    tokens: float
    width: float  # mean branches opened
    reads_per_branch: float
    tokens_per_branch: float
    shares: dict[str, float]  # token share per SHARES key, in percent
    reasons: list[ReasonRow]


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def summarise(stats: Iterable[EpisodeStats], label: str = "") -> TraceSummary:
    """Aggregate per-episode stats (reasons ordered by how many episodes stop that way)."""
    rows = list(stats)
    total = sum(s.tokens for s in rows)
    by_reason: dict[str, list[EpisodeStats]] = {}
    for s in rows:
        by_reason.setdefault(s.stop_reason, []).append(s)
    reasons = [
        ReasonRow(
            reason,
            len(members),
            100 * _mean([float(m.correct) for m in members]),
            _mean([m.tokens for m in members]),
        )
        for reason, members in sorted(by_reason.items(), key=lambda kv: (-len(kv[1]), kv[0]))
    ]
    width = sum(s.width for s in rows)
    return TraceSummary(
        label=label,
        episodes=len(rows),
        accuracy=100 * _mean([float(s.correct) for s in rows]),
        tokens=_mean([s.tokens for s in rows]),
        width=_mean([float(s.width) for s in rows]),
        reads_per_branch=sum(s.reads for s in rows) / width if width else 0.0,
        tokens_per_branch=total / width if width else 0.0,
        shares={
            key: 100 * sum(getattr(s, key) for s in rows) / total if total else 0.0
            for key, _, _ in SHARES
        },
        reasons=reasons,
    )


def render_summary(summary: TraceSummary) -> str:
    """The summary as aligned text."""
    lines = [
        f"{summary.label}: {summary.episodes} episodes, accuracy {summary.accuracy:.2f} %, "
        f"{short_number(summary.tokens)} tokens per episode",
        "",
        "where tokens go",
        f"  width   {summary.width:.1f} branches opened per episode",
        f"  depth   {summary.reads_per_branch:.1f} reads, "
        f"{short_number(summary.tokens_per_branch)} tokens per branch",
    ]
    for key, text, _ in SHARES:
        lines.append(f"  {summary.shares[key]:5.1f} %  of tokens on {text}")
    lines += ["", "stop reason"]
    width = max([len("reason"), *(len(r.reason) for r in summary.reasons)])
    lines.append(f"  {'reason':<{width}}  episodes  share  accuracy  tokens")
    for row in summary.reasons:
        share = 100 * row.episodes / summary.episodes if summary.episodes else 0.0
        lines.append(
            f"  {row.reason:<{width}}  {row.episodes:8d}  {share:4.0f}%  {row.accuracy:7.2f}%  "
            f"{short_number(row.tokens):>6}"
        )
    return "\n".join(lines) + "\n"


def draw_summary(summary: TraceSummary, stats: list[EpisodeStats], out: Path) -> None:
    """Three panels: width vs depth per episode, stop reasons with accuracy, token shares."""
    check_figure_path(out, "--out")
    plt = pyplot()
    with needs("plot", "plotting"):
        from matplotlib.ticker import MaxNLocator

    fig, (ax_wd, ax_stop, ax_share) = plt.subplots(
        1, 3, figsize=(13, 4.2), dpi=110, gridspec_kw={"width_ratios": [1.2, 1.2, 0.8]}
    )
    for correct, colour, name in ((True, "#1a9850", "correct"), (False, "#d73027", "wrong")):
        chosen = [s for s in stats if s.correct is correct and s.width]
        ax_wd.scatter(
            [s.width for s in chosen],
            [s.tokens / s.width for s in chosen],
            s=[max(4.0, s.tokens / max(summary.tokens, 1.0) * 12) for s in chosen],
            color=colour,
            alpha=0.35,
            edgecolors="none",
            label=f"{name} ({len(chosen)})",
        )
    widths = [s.width for s in stats] or [0]
    pad = max(1.0, 0.05 * (max(widths) - min(widths)))
    ax_wd.set_xlim(min(widths) - pad, max(widths) + pad)
    ax_wd.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax_wd.set_xlabel("width: branches opened")
    ax_wd.set_ylabel("depth: tokens per branch")
    ax_wd.yaxis.set_major_formatter(plt.FuncFormatter(short_number))
    ax_wd.set_title("each episode (dot area: its tokens)", fontsize=9)
    ax_wd.legend(fontsize=7)
    ax_wd.grid(True, alpha=0.3)

    reasons = summary.reasons
    ys = range(len(reasons))
    ax_stop.barh(ys, [r.episodes for r in reasons], height=0.6, color="#4575b4", alpha=0.8)
    for y, row in zip(ys, reasons):
        ax_stop.text(
            row.episodes,
            y,
            f" {row.accuracy:.0f} % right · {short_number(row.tokens)} tok",
            va="center",
            fontsize=7,
        )
    ax_stop.set_yticks(list(ys))
    ax_stop.set_yticklabels([r.reason for r in reasons], fontsize=8)
    ax_stop.invert_yaxis()
    ax_stop.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax_stop.set_xlabel("episodes")
    ax_stop.set_xlim(0, max([r.episodes for r in reasons], default=1) * 1.6)
    ax_stop.set_title("why episodes stop (accuracy, mean tokens)", fontsize=9)

    left = 0.0
    for key, text, colour in SHARES:
        share = summary.shares[key]
        ax_share.bar([0], [share], bottom=[left], color=colour, width=0.6, label=text)
        if share >= 4:
            ax_share.text(0, left + share / 2, f"{share:.0f} %", ha="center", va="center")
        left += share
    ax_share.set_xlim(-0.6, 0.6)
    ax_share.set_ylim(0, 100)
    ax_share.set_xticks([])
    ax_share.set_ylabel("share of all tokens (%)")
    ax_share.set_title("tokens spent on", fontsize=9)
    ax_share.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.02))
    fig.suptitle(
        f"{summary.label} · {summary.episodes} episodes · accuracy {summary.accuracy:.1f} % · "
        f"{short_number(summary.tokens)} tokens per episode",
        fontsize=10,
    )
    fig.tight_layout()
    save_figure(fig, out)
