"""The hand-crafted controllers' curves on the search set (``baselines.json``), computed
once at the start of a discovery run: every proposer is shown them, and the report
draws each round over them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from autotts.controllers.registry import ControllerSpec
from autotts.discovery.baseline_records import BaselineMethod, BaselinesFile
from autotts.discovery.curves import BASELINE_CONTROLLERS, aggregate, curve_jobs, evaluate_curves
from autotts.discovery.digest import trace_digest
from autotts.discovery.records import CurvePoint
from autotts.discovery.settings import DiscoverySettings
from autotts.evaluation.executors import JobExecutor, traced_records
from autotts.evaluation.jobs import DataRef, EvalJob
from autotts.evaluation.protocols import ReferenceProtocol

__all__ = ["BASELINE_DIGEST_CHARS", "search_baselines"]

#: Characters of each baseline's trace digest (five of them go into every prompt).
BASELINE_DIGEST_CHARS = 2_500


def search_baselines(
    search: list[DataRef],
    settings: DiscoverySettings,
    where: JobExecutor,
    emit: Callable[[dict[str, Any]], None],
) -> BaselinesFile:
    """Each baseline's curve over the run's β grid on ``search``, with a digest of its
    traces (none under ``--no-trace-digest``); progress as ``baselines`` events."""
    emit({"phase": "baselines", "files": len(search)})
    methods: dict[str, BaselineMethod] = {}
    total = len(BASELINE_CONTROLLERS) * len(settings.betas) * len(search)
    done = [0]

    def tick(_i: int, _r: object) -> None:
        done[0] += 1
        emit({"phase": "baselines", "done": done[0], "total": total})

    for name in BASELINE_CONTROLLERS:
        points = evaluate_curves(
            curve_jobs(name, search, settings.betas, settings.protocol),
            executor=where,
            on_done=tick,
        )
        methods[name] = BaselineMethod(
            points=tuple(CurvePoint.from_dict(p) for p in points),
            aggregate=tuple(aggregate(points)),
            # --no-trace-digest: nothing traced, so nothing can reach a prompt
            digest="" if settings.no_trace_digest else _digest(name, search, settings, where),
        )
    return BaselinesFile(methods, tuple(settings.betas))


def _digest(
    name: str, search: list[DataRef], settings: DiscoverySettings, where: JobExecutor
) -> str:
    """A short digest of a baseline's traces at the middle of the β grid."""
    beta = settings.betas[len(settings.betas) // 2]
    protocol = ReferenceProtocol(settings.digest_seeds)
    traces = [
        (
            f"{ref.model}/{ref.benchmark} at β={beta:g}",
            traced_records(EvalJob(ref, ControllerSpec(name, beta), protocol), where),
        )
        for ref in search
    ]
    return trace_digest(traces, title=name, max_chars=BASELINE_DIGEST_CHARS)
