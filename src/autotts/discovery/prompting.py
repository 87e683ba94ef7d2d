"""Prompts from the Jinja2 templates in ``prompts/``.

A prompt holds the controller API guide, the rules of discovery, the baselines'
code and curves, and the history cut to a context budget (see
:func:`autotts.discovery.history.cut_history`).
"""

from __future__ import annotations

from importlib import resources
from typing import Any

import jinja2

from autotts.discovery.history import DEFAULT_CONTEXT_BUDGET, cut_history
from autotts.discovery.proposers.base import ProposalContext

__all__ = ["api_guide", "baseline_code", "history_text", "render", "user_prompt"]

#: Built-in controllers shown to proposers, by the module that holds each.
BASELINE_MODULES = {
    "sc": "sc.py",
    "asc": "asc.py",
    "esc": "esc.py",
    "parallel-probe": "parallel_probe.py",
    "cmc": "cmc.py",
}

_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("autotts.discovery", "prompts"),
    undefined=jinja2.StrictUndefined,
    autoescape=False,  # Markdown for a model, not HTML
    keep_trailing_newline=True,
    trim_blocks=True,
)


def render(template: str, **values: Any) -> str:
    return _ENV.get_template(template).render(**values)


def api_guide() -> str:
    return resources.files("autotts.controllers").joinpath("controller_api.md").read_text("utf-8")


def baseline_code() -> dict[str, str]:
    files = resources.files("autotts.controllers")
    return {name: files.joinpath(f).read_text("utf-8") for name, f in BASELINE_MODULES.items()}


def history_text(context: ProposalContext, budget: int = DEFAULT_CONTEXT_BUDGET) -> str:
    """Baselines' curves and the earlier rounds, cut to ``budget`` characters of history."""
    history = cut_history(context.history, budget)
    return render("history.md.j2", history=history, baselines=context.baselines)


def user_prompt(context: ProposalContext, budget: int = DEFAULT_CONTEXT_BUDGET) -> str:
    return render(
        "propose.md.j2",
        round=context.round,
        rounds=context.rounds,
        guide=api_guide(),
        rules=render("rules.md.j2"),
        baseline_code=baseline_code(),
        history=history_text(context, budget),
    )
