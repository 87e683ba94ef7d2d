"""A schedule as one plain, readable controller file.

The file is the episode-at-a-time composed controller
(:mod:`autotts.controllers.composable.plain`, which uses only the public API)
followed by a subclass whose ``knobs_at`` spells out the β schedule with its
numbers. It runs without the search machinery, and every reader treats it as any
controller file written elsewhere, since it may have been edited since: ``autotts
eval``/``check``/``serve``/``ablate`` and ``autotts.build`` run it in the sandbox
unless told to trust it (``--trust``, ``trusted=True``).
"""

from __future__ import annotations

import inspect
import json
import re
from typing import Any

from autotts.controllers.composable import KNOB_RANGES, BetaSchedule, Knobs
from autotts.controllers.composable import plain as plain_module

__all__ = ["class_name_for", "render_builtin", "render_controller", "schedule_body"]

_PUBLIC_IMPORT = "from autotts import Controller, Session, beta_confidence, majority, vote_stats\n"


def class_name_for(name: str) -> str:
    """``"opt-r3"`` → ``"OptR3"``: a class name from a controller name."""
    words = re.split(r"[^0-9A-Za-z]+", name)
    text = "".join(w[:1].upper() + w[1:] for w in words if w)
    return text if text[:1].isalpha() else f"C{text}"


def schedule_body(schedule: BetaSchedule, indent: str = "        ") -> str:
    """The body of ``knobs_at(self, beta)``: one line per knob, the formula written out."""
    lines = [f"{indent}b = min(1.0, max(0.0, float(beta)))", f"{indent}p = {schedule.power!r}"]
    args = [f'{slot}="{part}"' for slot, part in sorted(schedule.parts.items())]
    for name in KNOB_RANGES:
        if name not in schedule.bounds:
            continue
        spec = KNOB_RANGES[name]
        lo, hi = sorted(schedule.bounds[name])
        if spec.spend == 0 or lo == hi:
            expr = repr(round(lo) if spec.integer else round(lo, 4))
        else:
            if spec.spend > 0:
                formula = f"{lo!r} + {hi - lo!r} * b**p"
            else:
                formula = f"{hi!r} - {hi - lo!r} * b**p"
            expr = f"round({formula})" if spec.integer else f"round({formula}, 4)"
        args.append(f"{name}={expr}")
    lines.append(f"{indent}return Knobs(")
    lines += [f"{indent}    {arg}," for arg in args]
    lines.append(f"{indent})")
    return "\n".join(lines)


def render_controller(
    schedule: BetaSchedule, name: str, provenance: dict[str, Any], class_name: str | None = None
) -> str:
    """The whole file: provenance, the plain composed controller, the winner's class."""
    cls = class_name or class_name_for(name)
    source = inspect.getsource(plain_module)
    body = source.split('"""', 2)[2].lstrip("\n")  # drop the module docstring
    start = body.index("# Exported files replace these imports")
    end = body.index("    from autotts.env.session import Session\n") + len(
        "    from autotts.env.session import Session\n"
    )
    body = body[:start] + _PUBLIC_IMPORT + body[end:]
    header = (
        f'"""{name}: a controller found by autotts\' optimiser (composed parts, β schedule).\n\n'
        "Runs without the search machinery. Provenance:\n\n"
        + "\n".join(
            f"    {line}" for line in json.dumps(provenance, indent=2, sort_keys=True).splitlines()
        )
        + "\n\nThe parts and the order they act in each round: see PartsController below.\n"
        + '"""\n'
    )
    winner = (
        f"\n\nclass {cls}(PartsController):\n"
        f'    """{name}: the parts and β schedule the search chose."""\n\n'
        f'    name = "{name}"\n\n'
        "    def knobs_at(self, beta: float) -> Knobs:\n"
        f"{schedule_body(schedule)}\n"
    )
    return header + "\n" + body.rstrip("\n") + winner


def check_roundtrip(schedule: BetaSchedule, knobs_at: Any) -> bool:
    """Whether a rendered ``knobs_at`` gives the schedule's knobs on a fine β grid."""
    grid = [i / 40 for i in range(41)]
    return all(_same(schedule.knobs(b), knobs_at(b)) for b in grid)


def _same(a: Knobs, b: Any) -> bool:
    return bool(a.__dict__ == b.__dict__)


def render_builtin(
    schedule: BetaSchedule, name: str, class_name: str, summary: str, provenance: dict[str, Any]
) -> str:
    """A built-in controller module (vectorised path included) for a chosen schedule."""
    text = json.dumps(provenance, indent=4, sort_keys=True, ensure_ascii=False)
    return (
        f'"""{name}: {summary}\n\n'
        "Found by ``autotts optimize`` (no LLM): a composition of the parts in\n"
        ":mod:`autotts.controllers.composable.plain` with the β schedule below; how it\n"
        "was searched, selected and evaluated is in :data:`PROVENANCE`.\n"
        '"""\n\n'
        "# ruff: noqa: E501  (the provenance record keeps its long strings whole)\n"
        "from __future__ import annotations\n\n"
        "from typing import Any\n\n"
        "from autotts.controllers.composable.fast import FastParts\n"
        "from autotts.controllers.composable.plain import Knobs\n\n"
        f'__all__ = ["PROVENANCE", "{class_name}"]\n\n'
        f"#: How this controller was found: search settings, seed, time, objective, selection.\n"
        f"PROVENANCE: dict[str, Any] = {text}\n\n\n"
        f"class {class_name}(FastParts):\n"
        f'    """{summary}"""\n\n'
        f'    name = "{name}"\n\n'
        "    @classmethod\n"
        f"    def from_beta(cls, beta: float) -> {class_name}:\n"
        "        return cls(beta)\n\n"
        "    def knobs_at(self, beta: float) -> Knobs:\n"
        f"{schedule_body(schedule)}\n"
    )
