"""The discovery loop: propose → check → evaluate → digest → record, then select and
evaluate the selection on the held-out files (docs/discovery.md).

Every round is written through :class:`~autotts.discovery.rundir.RunDir`, so a
crash or Ctrl-C loses at most the round in flight and ``resume`` continues
where the run stopped. The search phase is handed the search files only.
"""

from __future__ import annotations

import itertools
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from autotts.controllers.registry import ControllerSpec
from autotts.discovery.baseline_records import BaselinesFile
from autotts.discovery.baselines import search_baselines
from autotts.discovery.candidate import find_class
from autotts.discovery.curves import (
    aggregate,
    best_point,
    curve_jobs,
    evaluate_curves,
    point_from_result,
)
from autotts.discovery.digest import trace_digest
from autotts.discovery.heldout import evaluate_heldout
from autotts.discovery.history import load_history
from autotts.discovery.proposers.base import Proposal, ProposalContext, Proposer
from autotts.discovery.racing import race_curves
from autotts.discovery.records import CurvePoint, CurvesFile, DataRead, RoundEntry, Selection
from autotts.discovery.rundir import RunDir, write_json_atomic, write_text_atomic
from autotts.discovery.selection import select
from autotts.discovery.settings import DiscoverySettings
from autotts.errors import CandidateRejected, ControllerError, UsageError
from autotts.evaluation.executors import JobExecutor, LocalExecutor, traced_records
from autotts.evaluation.jobs import DataRef, EvalJob, load_data
from autotts.evaluation.protocols import ReferenceProtocol
from autotts.evaluation.runner import EpisodeRecord
from autotts.scale.remote_check import check_here_or_on_ray

__all__ = ["Event", "run_discovery"]

#: Progress callback: ``{"round", "rounds", "phase", ...}``; phases are ``baselines``,
#: ``propose``, ``check``, ``evaluate``, ``digest``, ``recorded``, ``stop``, ``select``,
#: ``heldout``, ``done``.
Event = Callable[[dict[str, Any]], None]

#: The folder a proposer keeps between rounds (ProposalContext.state).
PROPOSER_STATE = "proposer"
#: A round's traces.md under ``--no-trace-digest``: nothing was traced (no prompt shows it).
NO_DIGEST = "# Trace digest\n\nNot computed: the run is the --no-trace-digest ablation.\n"


@dataclass
class _Spent:
    money: float = 0.0
    tokens: int = 0
    seconds: float = 0.0


def run_discovery(
    out: Path | str,
    proposer: Proposer,
    settings: DiscoverySettings | None = None,
    *,
    resume: bool = False,
    workers: int = 1,
    executor: JobExecutor | None = None,
    on_event: Event | None = None,
) -> RunDir:
    """Run (or resume) a discovery into ``out``; returns the run directory.

    A new run needs ``settings``; a resumed one reads them from ``run.json``. Its
    evaluations run on ``executor`` (default: ``workers`` local processes).
    KeyboardInterrupt propagates after the round in flight is discarded.
    """
    emit = on_event or (lambda _e: None)
    where = executor or LocalExecutor(workers)
    run = RunDir(out)
    if resume:
        if "optimizer" in run.settings():
            raise UsageError(
                f"{run.path} was written by 'autotts optimize': resume it with "
                f"'autotts optimize --resume --out {run.path}'"
            )
        settings = DiscoverySettings.from_run_json(run.settings())
        recorded = run.settings()["proposer"].get("kind")
        if recorded != proposer.kind:
            raise UsageError(
                f"{run.path} was run with proposer {recorded!r}, not {proposer.kind!r}"
            )
        _verify_search_files(run)
        run.recover()
    else:
        if settings is None:
            raise UsageError("a new run needs settings")
        run.create(settings.to_run_json(proposer.describe()))
    assert settings is not None
    if not run.file("selection.json").is_file():
        _search(run, settings, proposer, where, emit)
        _select(run, settings, emit)
    selection = run.selection()
    if (
        not run.file("heldout.json").is_file()
        and selection is not None
        and selection.round is not None
    ):
        total = len(settings.heldout)
        emit({"phase": "heldout", "files": total})
        if settings.heldout:
            evaluate_heldout(
                run,
                settings.heldout,
                seeds=settings.heldout_seeds,
                executor=where,
                on_done=lambda d, t: emit({"phase": "heldout", "done": d, "total": t}),
            )
    emit({"phase": "done", "run": str(run.path)})
    return run


def _verify_search_files(run: RunDir) -> None:
    for entry in run.settings()["search"]:
        ref = DataRef(entry["store"], entry["model"], entry["benchmark"])
        if load_data(ref).sha256 != entry["sha256"]:
            raise UsageError(f"search file {ref.model}/{ref.benchmark} changed since the run began")


def _spent(run: RunDir) -> _Spent:
    index = run.index()
    if not index:
        return _Spent()
    last = index[-1]
    return _Spent(
        float(last.money_total),
        int(last.proposer_tokens_total),
        float(last.seconds_total or 0.0),
    )


def _search(
    run: RunDir, settings: DiscoverySettings, proposer: Proposer, where: JobExecutor, emit: Event
) -> None:
    search = list(settings.search)  # the only data the search phase is given
    if not run.file("baselines.json").is_file():
        record = search_baselines(search, settings, where, emit)
        run.write_json("baselines.json", record.to_dict())
    baselines = run.baselines()
    assert baselines is not None  # written above, or by the run being resumed
    started = time.monotonic()
    before = _spent(run)
    while True:
        number = run.next_round()
        spent = _spent(run)
        elapsed = before.seconds + time.monotonic() - started
        stop = None
        if len(run.index()) >= settings.rounds:
            stop = f"{settings.rounds} rounds done"
        elif not proposer.remaining(number):
            stop = "the proposer has no more candidates"
        elif settings.max_cost is not None and spent.money >= settings.max_cost:
            stop = f"money limit reached (${spent.money:.4f} of ${settings.max_cost:g})"
        elif settings.max_time is not None and elapsed >= settings.max_time:
            stop = f"time limit reached ({elapsed:.0f} s of {settings.max_time:g} s)"
        if stop:
            emit({"phase": "stop", "round": number, "reason": stop})
            return
        _one_round(run, settings, proposer, baselines, number, spent, where, emit)


def _one_round(
    run: RunDir,
    settings: DiscoverySettings,
    proposer: Proposer,
    baselines: BaselinesFile,
    number: int,
    spent: _Spent,
    where: JobExecutor,
    emit: Event,
) -> None:
    t0 = time.monotonic()
    base = {"round": number, "rounds": settings.rounds}
    with run.new_round(number) as tmp:
        emit({**base, "phase": "propose"})
        workdir = tmp / "workspace"
        workdir.mkdir()
        context = ProposalContext(
            number,
            settings.rounds,
            load_history(run),
            baselines,
            workdir,
            progress=lambda p: emit({**base, "phase": "propose", **p}),
            no_trace_digest=settings.no_trace_digest,
            no_beta=settings.no_beta,
            search=list(settings.search),
            state=run.file(PROPOSER_STATE),
        )
        proposal = proposer.propose(context)
        _write_proposal(tmp, proposal)
        name = proposal.name or f"round-{number}"
        class_name: str | None = None
        if proposal.code is None:
            check: dict[str, Any] = {
                "verdict": "failed",
                "reason": "proposer",
                "detail": proposal.error or "the proposer returned no code",
                "checks": [],
            }
            points: list[dict[str, Any]] = []
            digest = f"# Trace digest\n\nNo candidate: {check['detail']}\n"
        else:
            class_name = find_class(proposal.code, proposal.class_name)
            write_text_atomic(tmp / "candidate.py", proposal.code)
            reference = f"{tmp / 'candidate.py'}:{class_name}"
            emit({**base, "phase": "check", "name": name})
            betas = settings.candidate_betas
            grid = sorted({betas[0], betas[len(betas) // 2], betas[-1]})
            check = check_here_or_on_ray(
                reference,
                settings.search,
                where,
                betas=grid,
                seeds=settings.check_seeds,
                # Every evaluation cell after it is open to the audit too: a few here.
                audited_cells=DISCOVERY_CHECK_AUDITS,
                # --no-beta: one fixed setting has no β direction to be monotone in
                monotone=not settings.no_beta,
            ).to_dict()
            # Paths in messages name the round's final folder, not the temporary one.
            check["detail"] = str(check.get("detail") or "").replace(
                str(tmp), f"rounds/{number:04d}"
            )
            emit(
                {
                    **base,
                    "phase": "check",
                    "name": name,
                    "verdict": check["verdict"],
                    "reason": check["reason"],
                }
            )
            points, digest = [], ""
            if check["verdict"] == "accepted":
                incumbent = _incumbent(run) if settings.race else None
                points, digest, check = _evaluate(
                    reference, settings, check, where, base, emit, incumbent
                )
            if not digest:
                digest = f"# Trace digest\n\nNot evaluated: {check['reason']}: {check['detail']}\n"
        # The audits' seeds are drawn afresh in every run: kept beside the curves, which
        # stay byte-identical from run to run.
        audits = [{**_where(p), "audit": p.pop("audit")} for p in points if "audit" in p]
        agg = aggregate(points)
        run_json(tmp, "check.json", check)
        if audits:
            run_json(tmp, "audits.json", {"cells": audits})
        curves = CurvesFile(
            points=tuple(CurvePoint.from_dict(p) for p in points),
            aggregate=tuple(agg),
            best=best_point(agg),
            # what re-running the round needs besides candidate.py
            controller=None if class_name is None else f"candidate.py:{class_name}",
            betas=tuple(settings.candidate_betas),
            protocol=settings.protocol.to_dict(),
            data=tuple(_search_provenance(run)),
        )
        run_json(tmp, "curves.json", curves.to_dict())
        write_text_atomic(tmp / "traces.md", digest)
        _drop_workspace(workdir)
        seconds = time.monotonic() - t0
        summary = RoundEntry(
            round=number,
            rounds=settings.rounds,
            name=name,
            class_name=class_name,
            verdict=check["verdict"],
            reason=check.get("reason"),
            # stopped by racing: its curve covers fewer seeds and it is never selected
            raced_out=bool(check.get("race", {}).get("stopped")),
            best=best_point(agg),
            aggregate=tuple(agg),
            money=proposal.money,
            money_total=spent.money + proposal.money,
            proposer_tokens=proposal.tokens,
            proposer_tokens_total=spent.tokens + proposal.tokens,
            seconds=round(seconds, 3),
            seconds_total=round(spent.seconds + seconds, 3),
        )
        final = run.commit(number, tmp, summary)
    best = select(run.index(), settings.select)
    emit(
        {
            **base,
            "phase": "recorded",
            "name": name,
            "verdict": check["verdict"],
            "reason": check.get("reason"),
            # why, in one line (the whole text is in the round's check.json)
            "detail": _first_line(str(check.get("detail") or "").replace(str(tmp), str(final))),
            "best": None if best is None else best.to_dict(),
            "money_total": summary.money_total,
        }
    )


def _first_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[0] if lines else ""


def _search_provenance(run: RunDir) -> list[dict[str, Any]]:
    return [
        {k: entry[k] for k in ("store", "model", "benchmark", "sha256")}
        for entry in run.settings()["search"]
    ]


def run_json(folder: Path, name: str, payload: Any) -> None:
    write_json_atomic(folder / name, payload)


def _drop_workspace(workdir: Path) -> None:
    # The agent's scratch files are not part of the record; candidate.py is.
    shutil.rmtree(workdir, ignore_errors=True)


def _write_proposal(tmp: Path, proposal: Proposal) -> None:
    exchange = dict(proposal.exchange)
    prompt = exchange.pop("prompt", None)
    if prompt:
        write_text_atomic(tmp / "prompt.md", str(prompt))
        exchange["prompt_file"] = "prompt.md"
    run_json(
        tmp,
        "proposal.json",
        {
            "name": proposal.name,
            "class": proposal.class_name,
            "summary": proposal.summary,
            "error": proposal.error,
            **exchange,
        },
    )


#: Cells the round's check audits (``autotts check`` alone audits 24): the round's
#: evaluation cells are audited as well, and a worker's start is most of an audit's cost.
DISCOVERY_CHECK_AUDITS = 6


def _where(point: dict[str, Any]) -> dict[str, Any]:
    return {key: point[key] for key in ("model", "benchmark", "beta")}


def _evaluate(
    reference: str,
    settings: DiscoverySettings,
    check: dict[str, Any],
    where: JobExecutor,
    base: dict[str, Any],
    emit: Event,
    incumbent: float | None = None,
) -> tuple[list[dict[str, Any]], str, dict[str, Any]]:
    """Curves on the search set, the monotonicity they show, and the trace digest.

    With an ``incumbent`` accuracy (``--race``), the curves are raced against it
    (:mod:`autotts.discovery.racing`) and ``check`` records how under ``race``.
    """
    jobs = curve_jobs(
        reference,
        settings.search,
        settings.candidate_betas,
        settings.protocol,
        interpreter=settings.interpreter,
    )
    raced: dict[str, Any] | None = None
    try:
        if incumbent is None:
            points = evaluate_curves(
                jobs,
                executor=where,
                on_done=lambda i, r: emit(
                    {**base, "phase": "evaluate", "done": i + 1, "total": len(jobs)}
                ),
            )
        else:
            outcome = race_curves(
                jobs,
                incumbent,
                executor=where,
                on_done=lambda d, t: emit({**base, "phase": "evaluate", "done": d, "total": t}),
            )
            points = [point_from_result(r, j.spec.beta) for j, r in zip(jobs, outcome.results)]
            raced = outcome.record(incumbent)
    except ControllerError as exc:
        # The sandbox's errors carry their own reason code (timeout, memory, ...).
        reason = exc.reason if isinstance(exc, CandidateRejected) else "crash"
        return [], "", {**check, "verdict": "rejected", "reason": reason, "detail": str(exc)}
    if settings.no_beta:
        check = {**check, "monotonicity": {"applies": False, "why": "--no-beta: one point"}}
    else:
        check = {**check, "monotonicity": _monotonicity(points)}
    if raced is not None:
        check["race"] = raced
    best = best_point(aggregate(points))
    assert best is not None
    if settings.no_trace_digest:
        return points, NO_DIGEST, check
    emit({**base, "phase": "digest", "beta": best.beta})
    traces: list[tuple[str, list[EpisodeRecord]]] = []
    for ref in settings.search:
        job = EvalJob(
            ref, ControllerSpec(reference, best.beta), ReferenceProtocol(settings.digest_seeds)
        )
        try:
            records = _traced(job, where)
        except ControllerError as exc:  # fails only when tracing: say so, keep the curves
            return points, f"# Trace digest\n\nTracing the candidate failed: {exc}\n", check
        traces.append((f"{ref.model}/{ref.benchmark} at β={best.beta:g}", records))
    return points, trace_digest(traces), check


def _incumbent(run: RunDir) -> float | None:
    """Best mean search-set accuracy of the accepted, fully evaluated rounds (None: none yet)."""
    chosen = select(run.index(), "accuracy")
    return (
        None if chosen is None or chosen.search_accuracy is None else float(chosen.search_accuracy)
    )


def _traced(job: EvalJob, where: JobExecutor) -> list[EpisodeRecord]:
    """Every episode record of ``job`` with its trace, computed by ``where`` (on the Ray
    cluster for ``discover --executor ray``, else here)."""
    return traced_records(job, where)


def _monotonicity(points: list[dict[str, Any]]) -> dict[str, Any]:
    """Tokens over the β grid per search file, and whether they never fall."""
    per_file: dict[str, list[float]] = {}
    for p in sorted(points, key=lambda p: p["beta"]):
        per_file.setdefault(f"{p['model']}/{p['benchmark']}", []).append(p["tokens"])
    monotone = all(all(b >= a - 1e-9 for a, b in itertools.pairwise(v)) for v in per_file.values())
    return {"tokens_by_beta": per_file, "monotone": monotone}


def _select(run: RunDir, settings: DiscoverySettings, emit: Event) -> None:
    index = run.index()
    chosen = select(index, settings.select)
    payload = Selection(round=None, beta=None, rule=settings.select)
    if chosen is not None:
        entry = next(e for e in index if e.round == chosen.round)
        payload = replace(chosen, class_name=entry.class_name)
    payload = replace(
        payload,
        read=tuple(
            DataRead(e["model"], e["benchmark"], e["sha256"]) for e in run.settings()["search"]
        ),
    )
    run.write_selection(payload)
    emit({"phase": "select", "selection": payload.to_dict()})
