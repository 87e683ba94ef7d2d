"""Prompts from the Jinja2 templates in ``prompts/``.

A prompt holds the controller API guide, the rules of discovery, the baselines'
code and curves, and the history cut to a context budget (see
:func:`autotts.discovery.history.cut_history`).

A model with a small context window gets a smaller prompt: :func:`prompt_ladder`
lists ever smaller :class:`PromptCut` settings (the history first, oldest rounds
first, then the baselines' digests and code, then the guide), and a chat proposer
takes the first one that leaves room to answer (``proposers/llm.py``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from importlib import resources
from typing import Any

import jinja2

from autotts.discovery.baseline_records import BaselinesFile
from autotts.discovery.history import DEFAULT_CONTEXT_BUDGET, cut_history
from autotts.discovery.proposers.base import ProposalContext

__all__ = [
    "PromptCut",
    "api_guide",
    "baseline_code",
    "history_text",
    "prompt_ladder",
    "render",
    "rules_text",
    "user_prompt",
]

#: Built-in controllers shown to proposers, by the module that holds each.
BASELINE_MODULES = {
    "sc": "sc.py",
    "asc": "asc.py",
    "esc": "esc.py",
    "parallel-probe": "parallel_probe.py",
    "cmc": "cmc.py",
}

#: The order baselines' code leaves a prompt that must shrink: the longest and the
#: nearest to another first; SC, the shortest complete example, goes last.
BASELINE_DROP_ORDER = ("parallel-probe", "asc", "esc", "cmc", "sc")

#: Sections of the API guide a shortened guide keeps ("core"; "file" keeps the first).
CORE_SECTIONS = ("## The file", "## The session")

_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("autotts.discovery", "prompts"),
    undefined=jinja2.StrictUndefined,
    autoescape=False,  # Markdown for a model, not HTML
    keep_trailing_newline=True,
    trim_blocks=True,
)


@dataclass(frozen=True)
class PromptCut:
    """How much of each part a prompt carries; the default is the whole prompt."""

    #: characters of history (None: every earlier round as one line, no code)
    history_budget: int | None = DEFAULT_CONTEXT_BUDGET
    #: False: no earlier rounds at all
    history: bool = True
    #: the baselines' trace digests
    digests: bool = True
    #: the baselines whose code is shown
    baseline_code: tuple[str, ...] = tuple(BASELINE_MODULES)
    #: "full", "core" (the file and the session) or "file" (the file section alone)
    guide: str = "full"
    #: the baselines' curve tables: "full", "ends" (lowest, middle and highest β) or "none"
    curves: str = "full"

    def describe(self) -> str:
        """What was left out, in words (empty for the whole prompt)."""
        out = []
        if not self.history:
            out.append("no earlier rounds")
        elif self.history_budget is None:
            out.append("earlier rounds as one line each")
        elif self.history_budget < DEFAULT_CONTEXT_BUDGET:
            out.append(f"history cut to {self.history_budget:,} characters")
        if not self.digests:
            out.append("no baseline digests")
        dropped = [n for n in BASELINE_MODULES if n not in self.baseline_code]
        if dropped:
            out.append("no code of " + ", ".join(dropped))
        if self.guide != "full":
            kept = [name.removeprefix("## ") for name in _guide_sections(self.guide)]
            out.append(f"API guide: {' and '.join(kept)} only")
        if self.curves != "full":
            out.append("baseline curves: " + ("3 β each" if self.curves == "ends" else "none"))
        return "; ".join(out)


def prompt_ladder(budget: int = DEFAULT_CONTEXT_BUDGET) -> list[PromptCut]:
    """Cuts from the whole prompt down to the smallest one still worth sending, each
    no larger than the one before."""
    cut = PromptCut(history_budget=budget)
    ladder = [cut]
    size = budget
    while size > 2_000:  # the oldest rounds lose code, then points (cut_history)
        size //= 2
        ladder.append(replace(cut, history_budget=size))
    cut = replace(cut, history_budget=0)
    ladder.append(cut)
    cut = replace(cut, history_budget=None)
    ladder += [cut, (cut := replace(cut, digests=False))]
    for name in BASELINE_DROP_ORDER:
        kept = tuple(n for n in cut.baseline_code if n != name)
        ladder.append(cut := replace(cut, baseline_code=kept))
    ladder.append(cut := replace(cut, guide="core"))
    ladder.append(cut := replace(cut, curves="ends"))
    ladder.append(cut := replace(cut, history=False))
    ladder.append(cut := replace(cut, guide="file"))
    ladder.append(replace(cut, curves="none"))
    return ladder


def render(template: str, **values: Any) -> str:
    return _ENV.get_template(template).render(**values)


def api_guide(kind: str = "full") -> str:
    text = resources.files("autotts.controllers").joinpath("controller_api.md").read_text("utf-8")
    if kind == "full":
        return text
    # The guide's sections start with "## "; keep the introduction and the chosen ones.
    blocks = text.split("\n## ")
    wanted = {s.removeprefix("## ") for s in _guide_sections(kind)}
    kept = [blocks[0]] + [b for b in blocks[1:] if b.split("\n", 1)[0] in wanted]
    return "\n## ".join(kept).rstrip() + "\n"


def _guide_sections(kind: str) -> tuple[str, ...]:
    return CORE_SECTIONS if kind == "core" else CORE_SECTIONS[:1]


def baseline_code(names: tuple[str, ...] | None = None) -> dict[str, str]:
    files = resources.files("autotts.controllers")
    return {
        name: files.joinpath(f).read_text("utf-8")
        for name, f in BASELINE_MODULES.items()
        if names is None or name in names
    }


def rules_text(context: ProposalContext | None = None) -> str:
    """The rules of discovery; under ``--no-beta`` they ask for one fixed setting."""
    return render("rules.md.j2", no_beta=bool(context and context.no_beta))


def _baselines(baselines: BaselinesFile, cut: PromptCut, digests: bool = True) -> dict[str, Any]:
    methods = {}
    for name, method in baselines.methods.items():
        agg = list(method.aggregate)
        if cut.curves == "ends" and len(agg) > 3:
            agg = [agg[0], agg[len(agg) // 2], agg[-1]]
        elif cut.curves == "none":
            agg = []
        methods[name] = {
            "aggregate": agg,
            "digest": (method.digest or "") if cut.digests and digests else "",
        }
    return {"methods": methods}


def history_text(
    context: ProposalContext, budget: int = DEFAULT_CONTEXT_BUDGET, cut: PromptCut | None = None
) -> str:
    """Baselines' curves and the earlier rounds, cut to ``budget`` characters of history."""
    cut = cut or PromptCut(history_budget=budget)
    if not cut.history:
        history: list[dict[str, Any]] = []
    elif cut.history_budget is None:
        history = [{**_brief(e), "brief": True} for e in context.history]
    else:
        history = cut_history(context.history, cut.history_budget)
    # --no-trace-digest: no digest of any kind, the baselines' or a round's (a run of that
    # ablation computes none, but a round's traces.md still says why it was not evaluated)
    digests = not context.no_trace_digest
    return render(
        "history.md.j2",
        history=history,
        baselines=_baselines(context.baselines, cut, digests),
        skipped=len(context.history) if not cut.history else 0,
        digests=digests,
    )


def _brief(entry: dict[str, Any]) -> dict[str, Any]:
    keep = ("round", "name", "verdict", "reason", "aggregate", "check")
    out = {k: entry[k] for k in keep if k in entry}
    agg = out.get("aggregate") or []
    if len(agg) > 3:
        out["aggregate"] = [agg[0], agg[len(agg) // 2], agg[-1]]
    detail = str(out.get("check", {}).get("detail", "")).strip().splitlines()
    out["check"] = {"detail": detail[0][:300]} if detail else {}
    return out


def user_prompt(
    context: ProposalContext, budget: int = DEFAULT_CONTEXT_BUDGET, cut: PromptCut | None = None
) -> str:
    cut = cut or PromptCut(history_budget=budget)
    return render(
        "propose.md.j2",
        round=context.round,
        rounds=context.rounds,
        guide=api_guide(cut.guide),
        rules=rules_text(context),
        no_beta=context.no_beta,
        no_trace_digest=context.no_trace_digest,
        baseline_code=baseline_code(cut.baseline_code),
        history=history_text(context, budget, cut),
    )
