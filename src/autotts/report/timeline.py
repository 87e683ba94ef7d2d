"""One episode as a timeline picture (``autotts explain``).

Rows are branches in the order they were opened. The x axis is the episode's
cumulative token count, so reading left to right replays the controller: each
read is a bar over the tokens it cost, ending in a mark coloured by the answer
it revealed (a square when it was the branch's final answer). The gold answer is
green, a wrong returned answer red, other answers get muted colours. A cross
marks where the controller dropped a branch; the dashed line is the stop, with
the controller's reason at the bottom. When the controller's own steps report a
known signal (CMC's ``ema`` and ``conf``, ASC's ``confidence``, Parallel-Probe's
``stable``), a panel above the rows draws it over the same axis, with the
parameter that is its stop threshold.
"""

from __future__ import annotations

import textwrap
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from autotts.data.summary import ERR
from autotts.extras import needs
from autotts.report.plots import check_figure_path, pyplot, save_figure, token_axis
from autotts.report.trace_view import EpisodeView

__all__ = ["TimelineLayout", "draw_timeline", "timeline_layout"]

GOLD = "#1a9850"
WRONG = "#d73027"
RETURNED = "#2166ac"  # the returned answer when the gold one is unknown
OTHERS = ["#4575b4", "#f46d43", "#8073ac", "#b35806", "#de77ae", "#80cdc1", "#bf812d"]
REST = "#969696"
UNREADABLE = "#d4d4d4"  # "ERR": the probe held no parseable answer
DPI = 110
#: Controller signals drawn above the timeline, with the parameter that is their threshold.
SIGNALS = (("ema", "conf_thresh"), ("conf", None), ("confidence", "threshold"), ("stable", "T"))
SIGNAL_NAMES = {
    "ema": "EMA confidence",
    "conf": "pool confidence",
    "confidence": "confidence",
    "stable": "majority unchanged (steps)",
}
SIGNAL_HEIGHT = 1.3  # inches


@dataclass(frozen=True)
class TimelineLayout:
    """Size of the picture for an episode: rows drawn and figure size in inches."""

    rows: int
    width: float
    height: float
    signals: tuple[str, ...] = ()  # drawn in a panel above the rows

    @property
    def pixels(self) -> tuple[int, int]:
        """(height, width) of the PNG, as an image reader returns its shape."""
        return round(self.height * DPI), round(self.width * DPI)


def timeline_layout(view: EpisodeView) -> TimelineLayout:
    """Rows are branches; each gets a fixed height, plus room for title and legend."""
    rows = max(1, len(view.branches))
    signals = tuple(name for name, _ in SIGNALS if len(view.signals.get(name, ())) > 1)
    height = 2.4 + 0.2 * rows + (SIGNAL_HEIGHT if signals else 0.0)
    return TimelineLayout(rows=rows, width=10.0, height=round(height, 2), signals=signals)


def answer_colours(view: EpisodeView) -> dict[str, str]:
    """Gold green, a wrong returned answer red, the most-read other answers muted colours."""
    counts = Counter(read.answer for branch in view.branches for read in branch.reads)
    colours: dict[str, str] = {}
    if view.gold is not None:
        colours[view.gold] = GOLD
    if view.answer is not None and view.answer not in colours:
        colours[view.answer] = WRONG if view.gold is not None else RETURNED
    if ERR in counts and ERR not in colours:
        colours[ERR] = UNREADABLE
    palette = iter(OTHERS)
    for answer, _ in counts.most_common():
        if answer not in colours:
            colours[answer] = next(palette, REST)
    return colours


def _draw_signals(ax: Any, view: EpisodeView, names: tuple[str, ...]) -> None:
    """The controller's own numbers over the episode, with their stop thresholds."""
    thresholds = dict(SIGNALS)
    for name in names:
        xs, ys = zip(*view.signals[name])
        (line,) = ax.plot(xs, ys, linewidth=1.2, marker=".", markersize=3, label=SIGNAL_NAMES[name])
        param = thresholds.get(name)
        value = view.params.get(param) if param else None
        if isinstance(value, (int, float)):
            ax.axhline(value, color=line.get_color(), linestyle=":", linewidth=1.0)
            ax.annotate(
                f"{param}={value:g}",
                (0, value),
                xycoords=("axes fraction", "data"),
                xytext=(2, -9),  # below the line: it often runs along the top
                textcoords="offset points",
                fontsize=7,
                color=line.get_color(),
            )
    ax.axvline(view.tokens, color="black", linestyle="--", linewidth=1.0)
    ax.set_ylabel("controller's signal", fontsize=8)
    ax.tick_params(labelsize=7)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))


def _quote(answer: str | None) -> str:
    return "none" if answer is None else f"'{answer}'"


def _legend_label(answer: str, view: EpisodeView, reads: int) -> str:
    tags = []
    if answer == view.gold:
        tags.append("gold")
    if answer == view.answer:
        tags.append("returned")
    if answer == ERR:
        tags.append("no answer yet")
    shown = answer if len(answer) <= 18 else answer[:17] + "…"
    shown = shown.replace("$", r"\$")  # a literal dollar, not matplotlib's math mode
    seen = f"{reads} reads" if reads else "never read"
    return f"{shown} ({', '.join(tags)}) · {seen}" if tags else f"{shown} · {seen}"


def draw_timeline(view: EpisodeView, out: Path) -> TimelineLayout:
    """Draw ``view`` to ``out`` (.png/.svg/.pdf); return the layout used."""
    check_figure_path(out, "--out")
    layout = timeline_layout(view)
    plt = pyplot()
    with needs("plot", "plotting"):
        from matplotlib.collections import LineCollection

    if layout.signals:
        fig, (top, ax) = plt.subplots(
            2,
            1,
            sharex=True,
            figsize=(layout.width, layout.height),
            dpi=DPI,
            gridspec_kw={"height_ratios": [SIGNAL_HEIGHT, layout.height - SIGNAL_HEIGHT - 1.3]},
        )
        _draw_signals(top, view, layout.signals)
    else:
        fig, ax = plt.subplots(figsize=(layout.width, layout.height), dpi=DPI)
    colours = answer_colours(view)
    counts = Counter(read.answer for branch in view.branches for read in branch.reads)
    # One collection per kind of mark: thousands of reads draw in well under a second.
    lives, segments, seg_colours = [], [], []
    marks: dict[bool, tuple[list[float], list[int], list[str]]] = {
        False: ([], [], []),
        True: ([], [], []),
    }
    drops: tuple[list[float], list[int]] = ([], [])
    for row, branch in enumerate(view.branches):
        if not branch.reads:
            continue
        ended = branch.pruned_at if branch.pruned_at is not None else branch.reads[-1].end
        if not branch.finished and branch.pruned_at is None:
            ended = view.tokens  # still running when the episode stopped
        lives.append([(branch.reads[0].start, row), (ended, row)])
        for read in branch.reads:
            segments.append([(read.start, row), (read.end, row)])
            seg_colours.append(colours[read.answer])
            xs, ys, cs = marks[read.finished]
            xs.append(read.end)
            ys.append(row)
            cs.append(colours[read.answer])
        if branch.pruned_at is not None:
            drops[0].append(branch.pruned_at)
            drops[1].append(row)
    ax.add_collection(LineCollection(lives, colors="#d9d9d9", linewidths=0.8, zorder=1))
    ax.add_collection(LineCollection(segments, colors=seg_colours, linewidths=2.2, zorder=2))
    for finished, (xs, ys, cs) in marks.items():
        if xs:
            ax.scatter(
                xs,
                ys,
                s=26 if finished else 11,
                marker="s" if finished else "o",
                c=cs,
                edgecolors="black" if finished else "none",
                linewidths=0.5,
                zorder=3,
            )
    if drops[0]:
        ax.scatter(*drops, marker="x", s=40, color="black", zorder=4)
    ax.axvline(view.tokens, color="black", linestyle="--", linewidth=1.0, zorder=0)
    ax.set_yticks(range(layout.rows))
    ax.set_yticklabels([str(b.slot) for b in view.branches] or ["-"], fontsize=7)
    ax.set_ylim(layout.rows - 0.5, -0.5)
    ax.set_ylabel("branch (in opening order)")
    token_axis(ax, log=False)
    ax.set_xlim(0, max(view.tokens, 1.0) * 1.02)
    ax.set_xlabel(
        "cumulative tokens spent in the episode (a mark: one read, at the total after it)"
    )
    ax.grid(True, axis="x", alpha=0.3)
    verdict = {True: "correct", False: "wrong", None: "unscored"}[view.correct]
    (top if layout.signals else ax).set_title(
        f"{view.label} · question {view.question}, replicate {view.replicate} · "
        "over cumulative tokens\n"
        f"answer {_quote(view.answer)} · gold {_quote(view.gold)} · {verdict} · "
        f"{view.tokens:,.0f} tokens · {len(view.branches)} branches",
        fontsize=9,
        parse_math=False,  # answers are LaTeX-ish strings: show them as written
    )
    stop = f"stop ({view.stop_reason}): {view.stop_decision}"
    fig.text(0.01, 0.005, textwrap.fill(stop, 150), fontsize=7.5, va="bottom", parse_math=False)
    handles = [
        plt.Line2D(
            [], [], color=colour, marker="o", linestyle="", label=_legend_label(a, view, counts[a])
        )
        for a, colour in colours.items()
        if colour != REST and (counts[a] or a == view.gold)
    ]
    handles += [
        plt.Line2D([], [], color="grey", marker="s", linestyle="", label="final answer"),
        plt.Line2D([], [], color="black", marker="x", linestyle="", label="dropped"),
        plt.Line2D([], [], color="black", linestyle="--", label="stop"),
    ]
    if any(colour == REST for colour in colours.values()):
        handles.append(plt.Line2D([], [], color=REST, marker="o", linestyle="", label="other"))
    ax.legend(handles=handles, fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout(rect=(0, 0.3 / layout.height, 1, 1))
    save_figure(fig, out)
    return layout
