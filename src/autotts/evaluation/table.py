"""The published comparison table: six methods on every replay file of a store."""

from __future__ import annotations

from typing import Any

from autotts.controllers.registry import ControllerSpec
from autotts.evaluation.jobs import DataRef, EvalJob
from autotts.evaluation.protocols import EvaluationProtocol, ReferenceProtocol
from autotts.evaluation.results import EvalResult

__all__ = ["DISCOVERED_METHODS", "TABLE_METHODS", "table_jobs", "table_rows"]

#: Method label -> controller, in the published settings (docs/replay-protocol.md, "The baselines").
TABLE_METHODS: dict[str, ControllerSpec] = {
    "SC@64": ControllerSpec("sc", params={"n": 64}),
    "ASC": ControllerSpec("asc", params={"max_samples": 64, "threshold": 0.95}),
    "ESC": ControllerSpec("esc", params={"max_samples": 64, "window_size": 8}),
    "Parallel-Probe": ControllerSpec(
        "parallel-probe",
        params={
            "num_chains": 64,
            "T": 40,
            "prune_patience": 7,
            "warm_up": 15,
            "probe_burst": 1,
            "max_steps": 100,
        },
    ),
    "CMC β=0.5": ControllerSpec("cmc", beta=0.5),
    "CMC β=1.0": ControllerSpec("cmc", beta=1.0),
}


#: Rows of built-ins found by autotts itself (``autotts table --discovered``); not in the
#: published table, so the default table stays the published one.
DISCOVERED_METHODS: dict[str, ControllerSpec] = {
    # the β its search chose for CMC's β=0.5 and β=1.0 token budgets (search set only)
    "SWC β=0.5": ControllerSpec("swc", beta=0.5),
    "SWC β=1.0": ControllerSpec("swc", beta=1.0),
}


def table_jobs(
    files: list[DataRef],
    protocol: EvaluationProtocol | None = None,
    methods: list[str] | None = None,
) -> list[EvalJob]:
    """One job per (file, method), files in the given order, methods in table order."""
    chosen = methods or list(TABLE_METHODS)
    proto: EvaluationProtocol = protocol or ReferenceProtocol()
    specs = {**TABLE_METHODS, **DISCOVERED_METHODS}
    return [
        EvalJob(data=ref, spec=specs[label], protocol=proto, label=label)
        for ref in files
        for label in chosen
    ]


def table_rows(results: list[EvalResult]) -> list[dict[str, Any]]:
    """Rows ``{model, benchmark, method, accuracy, tokens, seq_tokens}``."""
    return [
        {
            "model": r.data["model"],
            "benchmark": r.data["benchmark"],
            "method": r.label,
            "accuracy": r.metrics.accuracy,
            "tokens": r.metrics.tokens,
            "seq_tokens": r.metrics.seq_tokens,
        }
        for r in results
    ]
