"""The ``--answers string|equivalence`` option shared by eval, sweep and table."""

from __future__ import annotations

from dataclasses import replace

import typer

from autotts.cli.common import progress_bar
from autotts.data.equivalence import ANSWER_MODES, prepare
from autotts.errors import UnknownName
from autotts.evaluation.jobs import DataRef, load_data
from autotts.extras import require

__all__ = ["ANSWERS", "with_answers"]

ANSWERS = typer.Option(
    "string",
    "--answers",
    help="How answers compare: 'string' (the reference protocol) or 'equivalence' "
    "(math-verify: equivalent answers vote and score as one; needs the 'live' extra; "
    "computed once per file, then cached).",
)


def with_answers(refs: list[DataRef], answers: str, workers: int = 1) -> list[DataRef]:
    """``refs`` comparing answers as asked; equivalence classes are computed here, in the
    parent process, so worker processes only read the cache."""
    if answers not in ANSWER_MODES:
        raise UnknownName("--answers value", answers, ANSWER_MODES)
    out = [replace(ref, answers=answers) for ref in refs]
    if answers != "string":
        # here, before the pool's processes would each fail on the import
        require("live", f"--answers {answers}", "math_verify")
        replays = [load_data(replace(ref, answers="string")) for ref in refs]
        total = sum(len(r) for r in replays)
        with progress_bar(total, "answer equivalence (once per file, then cached)") as advance:
            prepare(replays, workers=workers, progress=lambda done, _: advance(completed=done))
        for ref in out:
            load_data(ref)
    return out
