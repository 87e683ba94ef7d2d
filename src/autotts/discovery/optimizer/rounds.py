"""Optimiser trials → run-directory rounds.

A *round* is a batch of ``trials_per_round`` consecutive finished trials (by trial
number). Its folder holds the batch's best trial (by the fit objective) as a
plain controller file (``candidate.py``), its search-set curves, the placeholder
check's verdict, and in ``proposal.json`` the parameters and scores of every trial
of the batch. Rounds are written from the study's journal, so writing is
idempotent: a resumed run writes exactly the batches not yet in ``index.jsonl``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from autotts.checking import check_controller
from autotts.controllers.composable import BetaSchedule
from autotts.discovery.curves import aggregate, aggregate_json, best_point
from autotts.discovery.optimizer.export import class_name_for, render_controller
from autotts.discovery.records import RoundEntry
from autotts.discovery.rundir import RunDir, write_json_atomic, write_text_atomic
from autotts.evaluation.jobs import DataRef

__all__ = ["covered_trials", "trial_record", "write_candidate_round", "write_rounds"]

Event = Callable[[dict[str, Any]], None]


#: The study of rounds written before a run could hold several (one search, one stage).
DEFAULT_STUDY = "autotts-optimizer"


def covered_trials(run: RunDir, study: str = DEFAULT_STUDY) -> int:
    """Trials of ``study`` already written into rounds (trial numbers below this are done)."""
    last = -1
    for entry in run.index():
        if entry.trials and (entry.study or DEFAULT_STUDY) == study:
            last = max(last, int(entry.trials[1]))
    return last + 1


def trial_record(trial: Any) -> dict[str, Any]:
    """What ``proposal.json`` keeps of one trial."""
    attrs = trial.user_attrs
    return {
        "number": trial.number,
        "state": trial.state.name,
        "params": dict(trial.params),
        "values": list(trial.values) if trial.values is not None else None,
        "fit_objective": attrs.get("fit_objective"),
        "validation": attrs.get("validation"),
        "active_parts": attrs.get("active_parts"),
        "monotone": attrs.get("monotone"),
        "seconds": attrs.get("seconds"),
        "worker": attrs.get("worker"),
    }


def write_rounds(
    run: RunDir,
    trials: Sequence[Any],
    per_round: int,
    search: list[DataRef],
    settings: dict[str, Any],
    *,
    flush: bool = False,
    emit: Event | None = None,
    study: str = DEFAULT_STUDY,
) -> int:
    """Write every complete batch of finished trials not yet in a round; returns rounds written.

    ``trials`` are the study's trials; a batch is complete when its ``per_round``
    consecutive trials have all finished (or, with ``flush``, whatever finished remains).
    """
    start = covered_trials(run, study)
    pending = sorted((t for t in trials if t.number >= start), key=lambda t: t.number)
    finished = []
    for trial in pending:  # consecutive finished trials only
        if trial.state.name not in ("COMPLETE", "FAIL", "PRUNED"):
            break
        finished.append(trial)
    written = 0
    while len(finished) >= per_round or (flush and finished):
        batch, finished = finished[:per_round], finished[per_round:]
        complete = [t for t in batch if t.state.name == "COMPLETE" and "schedule" in t.user_attrs]
        number = run.next_round()
        name = f"opt-r{number}"
        proposal = {
            "kind": "optimizer",
            "sampler": settings.get("sampler"),
            "trials": [trial_record(t) for t in batch],
        }
        base = {"round": number, "rounds": None, "name": name, "trials": [batch[0].number,
                batch[-1].number], "study": study}  # fmt: skip
        if not complete:
            summary = {**base, "verdict": "failed", "reason": "no trial finished", "aggregate": []}
            _write_round(run, number, None, proposal, summary, search, [], "")
        else:
            best = max(complete, key=lambda t: t.user_attrs["fit_objective"])
            schedule = BetaSchedule.from_dict(best.user_attrs["schedule"])
            provenance = {"round": number, "trial": best.number, "search": settings}
            summary = {
                **base,
                "trial": best.number,
                "fit_objective": best.user_attrs["fit_objective"],
                "validation": best.user_attrs["validation"],
            }
            write_candidate_round(
                run, number, schedule, name, provenance, proposal, summary, search,
                best.user_attrs["points"],
            )  # fmt: skip
        written += 1
        if emit:
            emit({"phase": "round", "round": number, "name": name, "trials": base["trials"]})
    return written


def write_candidate_round(
    run: RunDir,
    number: int,
    schedule: BetaSchedule,
    name: str,
    provenance: dict[str, Any],
    proposal: dict[str, Any],
    summary: dict[str, Any],
    search: list[DataRef],
    points: list[dict[str, Any]],
) -> None:
    """Seal a round whose candidate is ``schedule`` (code, check, curves, proposal)."""
    code = render_controller(schedule, name, provenance)
    summary = {**summary, "class": class_name_for(name)}
    _write_round(run, number, code, proposal, summary, search, points, class_name_for(name))


def _write_round(
    run: RunDir,
    number: int,
    code: str | None,
    proposal: dict[str, Any],
    summary: dict[str, Any],
    search: list[DataRef],
    points: list[dict[str, Any]],
    class_name: str = "",
) -> None:
    with run.new_round(number) as tmp:
        check: dict[str, Any] = {"verdict": summary.get("verdict", "failed"), "reason": "no-code"}
        if code is not None:
            write_text_atomic(tmp / "candidate.py", code)
            grid = (0.0, 0.5, 1.0)
            # The optimiser wrote this file from a schedule (no untrusted code): one
            # audited cell confirms it, as every evaluation's audit does.
            check = check_controller(f"{tmp / 'candidate.py'}:{class_name}", search[:1],
                                     betas=grid, seeds=1, audited_cells=1).to_dict()  # fmt: skip
            check["detail"] = str(check.get("detail") or "").replace(
                str(tmp), f"rounds/{number:04d}"
            )
        agg = aggregate(points)
        write_json_atomic(tmp / "proposal.json", proposal)
        write_json_atomic(tmp / "check.json", check)
        best = best_point(agg)
        best_json = None if best is None else best.to_dict()
        write_json_atomic(
            tmp / "curves.json",
            {"points": points, "aggregate": aggregate_json(agg), "best": best_json},
        )
        write_text_atomic(tmp / "traces.md", _digest(proposal, summary))
        # Built as a dict and read into the record, so a batch that failed keeps the key
        # order its writer always gave it ("aggregate" before "best").
        entry = {
            **summary,
            "verdict": check["verdict"],
            "reason": check.get("reason"),
            "best": best_json,
            "aggregate": aggregate_json(agg),
            "money": 0.0,
            "money_total": 0.0,
            "proposer_tokens": 0,
            "proposer_tokens_total": 0,
        }
        run.commit(number, Path(tmp), RoundEntry.from_dict(entry))


def _digest(proposal: dict[str, Any], summary: dict[str, Any]) -> str:
    if "trials" not in proposal:
        return (
            "# Optimiser winner\n\nNo execution traces: the optimiser reads numbers, not traces.\n"
            f"\nTrial {summary.get('trial')} chosen by: {proposal.get('rule', '')}.\n"
        )
    rows = [
        f"| {t['number']} | {t['state']} | {_fmt(t['fit_objective'])} | {_fmt(t['validation'])} "
        f"| {t['active_parts']} |"
        for t in proposal["trials"]
    ]
    return (
        "# Optimiser batch\n\nNo execution traces: the optimiser reads numbers, not traces.\n\n"
        f"Trials {summary['trials'][0]}–{summary['trials'][1]}; the candidate is trial "
        f"{summary.get('trial', '-')} (best fit objective).\n\n"
        "| trial | state | fit objective | validation | active parts |\n|---|---|---|---|---|\n"
        + "\n".join(rows)
        + "\n"
    )


def _fmt(value: Any) -> str:
    return "-" if value is None else f"{float(value):.3f}"
