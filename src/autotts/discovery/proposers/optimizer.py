"""``optimizer``: no LLM; before each proposal, a slice of numerical search (Optuna).

Each round runs ``seconds`` more of one Optuna study over composed controllers
and their β schedules (the space and objective of ``autotts optimize``) on the
search files, then proposes the best trial by the optimiser's selection rule
that it has not proposed before, written out as a plain controller file. From
there the round is like any other: the loop checks the file in the sandbox,
sweeps β on the search set and records it; after the last round the loop's
selection and its one held-out evaluation apply.

The study lives in the run's proposer folder (``RUN/proposer/optuna.journal``),
so a resumed run continues the same search. A trial is proposed once: the rounds
on record name their trials (``opt-t<number>``), and a round lost to a crash left
none, so its trial may be proposed again.
``autotts optimize`` is the same search run as one pre-registered study (several
seeds, staged, a pooled winner) rather than round by round.
"""

from __future__ import annotations

from typing import Any

from autotts.controllers.composable import BetaSchedule
from autotts.discovery.optimizer.driver import finished_trials, select_trial
from autotts.discovery.optimizer.export import render_controller
from autotts.discovery.optimizer.trials import fail_stale, run_trials
from autotts.discovery.optimizer.worker import STUDY_NAME, OptimizerSettings, open_study
from autotts.discovery.proposers.base import Proposal, ProposalContext
from autotts.errors import UsageError
from autotts.extras import require

__all__ = ["DEFAULT_SECONDS", "OptimizerProposer"]

#: Seconds of search before each proposal unless told otherwise (``--search-time``).
DEFAULT_SECONDS = 60.0
#: A proposed trial's name: its study's trial number after this prefix.
PREFIX = "opt-t"


class OptimizerProposer:
    kind = "optimizer"

    def __init__(
        self,
        seconds: float = DEFAULT_SECONDS,
        *,
        sampler: str = "tpe",
        seed: int = 0,
        replay_seeds: int = 10,
        objective: str = "cv",
        metric: str = "two-point",
        fixed_parts: dict[str, str] | None = None,
        processes: int = 1,
        top_k: int = 10,
    ) -> None:
        if seconds <= 0:
            raise UsageError(f"--search-time must be positive, got {seconds:g}")
        # before the run directory or any data: a missing extra fails the command at once
        require("optimize", "--proposer optimizer", "optuna")
        self.seconds = float(seconds)
        # Validated here (unknown sampler, objective, ...), before the run directory exists.
        self.settings = OptimizerSettings(
            sampler=sampler,
            seed=seed,
            time_budget=self.seconds,
            replay_seeds=replay_seeds,
            objective=objective,
            metric=metric,
            fixed_parts=dict(fixed_parts or {}),
            workers=processes,
            top_k=top_k,
            staged=False,
        )

    def describe(self) -> dict[str, Any]:
        s = self.settings
        return {
            "kind": self.kind,
            "seconds": self.seconds,
            "sampler": s.sampler,
            "seed": s.seed,
            "replay_seeds": s.replay_seeds,
            "objective": s.objective,
            "metric": s.metric,
            "fixed_parts": s.fixed_parts,
            "processes": s.workers,
            "top_k": s.top_k,
            "rule": "after each slice of search, the trial the optimiser's selection rule "
            "picks among those not proposed before",
        }

    def remaining(self, round_number: int) -> bool:
        return True  # a search can always run longer

    def propose(self, context: ProposalContext) -> Proposal:
        if context.state is None or not context.search:
            return Proposal(None, error="the optimizer proposer needs the search files")
        folder = context.state
        folder.mkdir(parents=True, exist_ok=True)
        journal = folder / "optuna.journal"
        stop_file = folder / "optimizer.stop"
        stop_file.unlink(missing_ok=True)
        study = open_study(journal, self.settings, name=STUDY_NAME)
        fail_stale(study)

        def tick(elapsed: float) -> None:
            done = len(finished_trials(study))
            context.report({"trials": done, "seconds": elapsed, "budget": self.seconds})

        _early, used = run_trials(
            study, STUDY_NAME, journal, self.settings, context.search, self.seconds, stop_file,
            tick, poll=min(2.0, self.seconds / 4), from_ready=True,
        )  # fmt: skip
        proposed = _proposed(context.history)
        trials = finished_trials(study)
        fresh = [t for t in trials if t.number not in proposed and "schedule" in t.user_attrs]
        pick = select_trial(fresh, self.settings.top_k)
        exchange = {
            "trials": len(trials),
            "seconds": round(used, 3),
            "money": 0.0,
            "input_tokens": 0,
            "output_tokens": 0,
        }
        if pick is None:
            error = f"no new finished trial after {used:.0f} s of search"
            return Proposal(None, name=f"opt-round-{context.round}", exchange=exchange, error=error)
        attrs = pick.user_attrs
        name = f"{PREFIX}{pick.number}"
        schedule = BetaSchedule.from_dict(attrs["schedule"])
        provenance = {
            "trial": pick.number,
            "study": STUDY_NAME,
            "search": self.describe(),
            "fit_objective": attrs["fit_objective"],
        }
        parts = ", ".join(f"{slot}={part}" for slot, part in sorted(schedule.parts.items()))
        return Proposal(
            render_controller(schedule, name, provenance),
            name=name,
            summary=f"trial {pick.number} of {len(trials)} (objective "
            f"{attrs['fit_objective']:+.3f} on the search set): {parts}",
            exchange={
                **exchange,
                "trial": pick.number,
                "fit_objective": attrs["fit_objective"],
                "params": dict(pick.params),
            },
        )


def _proposed(history: list[dict[str, Any]]) -> set[int]:
    """Trial numbers of the rounds on record (their names say them)."""
    names = [str(entry.get("name", "")) for entry in history]
    numbers = [name[len(PREFIX) :] for name in names if name.startswith(PREFIX)]
    return {int(n) for n in numbers if n.isdigit()}
