"""Python API: run a search from a notebook and inspect its run directory.

import autotts
run = autotts.discover("run", candidates="examples/candidates", data="synthetic",
                       betas=[0, 0.5, 1], seeds=5)
run.rounds()            # index lines (RoundEntry): verdict, best point, money
run.selection()         # Selection: round, beta, rule, ...; .to_dict() is selection.json
run.baselines()         # BaselinesFile: the baselines' curves on the search set
run.heldout()           # DiscoverHeldout: the selection vs the baselines on the held-out files
run.transfer()          # TransferFile: the selection per model × benchmark, paired intervals
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from autotts.data.refs import data_refs
from autotts.discovery.baseline_records import BaselinesFile
from autotts.discovery.heldout_records import DiscoverHeldout, OptimizerHeldout
from autotts.discovery.history import load_history
from autotts.discovery.loop import Event, run_discovery
from autotts.discovery.proposers import make_proposer
from autotts.discovery.records import RoundEntry, Selection
from autotts.discovery.rundir import RunDir
from autotts.discovery.settings import DEFAULT_BETAS, DiscoverySettings, split_refs
from autotts.discovery.transfer_records import TransferFile
from autotts.errors import UsageError
from autotts.evaluation.executors import JobExecutor

__all__ = ["DiscoveryRun", "discover"]


class DiscoveryRun:
    """Read access to a run directory."""

    def __init__(self, path: Path | str) -> None:
        self.dir = RunDir(path)
        self.dir.settings()  # fails with a clear message when it is not a run

    @property
    def path(self) -> Path:
        return self.dir.path

    def settings(self) -> dict[str, Any]:
        return self.dir.settings()

    def rounds(self) -> list[RoundEntry]:
        return self.dir.index()

    def history(self) -> list[dict[str, Any]]:
        """Every round with its code, check, curves and digest."""
        return load_history(self.dir)

    def baselines(self) -> BaselinesFile | None:
        """The baselines' curves on the search set (``baselines.json``), once evaluated."""
        return self.dir.baselines()

    def selection(self) -> Selection | None:
        return self.dir.selection()

    def heldout(self) -> DiscoverHeldout | OptimizerHeldout | None:
        """The held-out comparison (``heldout.json``), once made: a discover run's
        :class:`DiscoverHeldout`, an optimize run's :class:`OptimizerHeldout`."""
        return self.dir.heldout()

    def transfer(self) -> TransferFile | None:
        """The selection per model × benchmark (``transfer.json``), once held out."""
        return self.dir.transfer()

    def __repr__(self) -> str:
        return f"DiscoveryRun({str(self.path)!r}, rounds={len(self.rounds())})"


def discover(
    out: Path | str,
    *,
    proposer: str = "scripted",
    data: str | None = None,
    models: Sequence[str] | None = None,
    search_benchmarks: Sequence[str] | None = None,
    heldout_benchmarks: Sequence[str] | None = None,
    betas: Sequence[float] | None = None,
    protocol: str = "reference",
    seeds: int = 100,
    protocol_extra: dict[str, Any] | None = None,
    rounds: int = 5,
    select: str = "accuracy",
    max_cost: float | None = None,
    max_time: float | None = None,
    heldout_seeds: int = 100,
    resume: bool = False,
    workers: int = 1,
    on_event: Event | None = None,
    race: bool = False,
    interpreter: str = "cpython",
    search_models: Sequence[str] | None = None,
    heldout_models: Sequence[str] | None = None,
    no_trace_digest: bool = False,
    no_beta: bool = False,
    executor: JobExecutor | None = None,
    **proposer_options: Any,
) -> DiscoveryRun:
    """Run or resume a discovery into ``out`` (see ``autotts discover --help``).

    ``proposer_options`` go to the proposer: ``candidates``/``class_name`` for
    ``scripted``; ``model``, ``base_url``, ... for the LLM proposers; ``command`` for
    ``agent``; ``seconds``, ``seed``, ``sampler``, ``fixed_parts``, ... for ``optimizer``.

    ``models`` names the models of both sets; ``search_models``/``heldout_models``
    override it for one set each (search on some models, evaluate on others).
    ``no_trace_digest`` and ``no_beta`` are the paper's discovery ablations. The
    evaluations run on ``executor`` (e.g. a connected :class:`autotts.scale.RayExecutor`;
    default: ``workers`` local processes).
    """
    if proposer == "optimizer" and (no_trace_digest or no_beta):
        raise UsageError(
            "--no-trace-digest and --no-beta are ablations of a proposer that reads prompts; "
            "--proposer optimizer reads none"
        )
    settings = None
    if not resume:
        search, held = split_refs(
            data_refs(data),
            list(models) if models else None,
            list(search_benchmarks) if search_benchmarks else None,
            list(heldout_benchmarks) if heldout_benchmarks else None,
            search_models=list(search_models) if search_models else None,
            heldout_models=list(heldout_models) if heldout_models else None,
        )
        settings = DiscoverySettings(
            search=search,
            heldout=held,
            betas=list(betas) if betas is not None else list(DEFAULT_BETAS),
            protocol_args={"name": protocol, "seeds": seeds, **(protocol_extra or {})},
            rounds=rounds,
            select=select,
            max_cost=max_cost,
            max_time=max_time,
            heldout_seeds=heldout_seeds,
            race=race,
            interpreter=interpreter,
            no_trace_digest=no_trace_digest,
            no_beta=no_beta,
        )
    run_discovery(
        out,
        make_proposer(proposer, **proposer_options),
        settings,
        resume=resume,
        workers=workers,
        executor=executor,
        on_event=on_event,
    )
    return DiscoveryRun(out)
