"""Parallel-Probe: probe a fixed cohort in lock-step, prune chains that keep
disagreeing with the majority, stop once the majority has been stable for T steps.

With ``confidence_weighted`` the majority weighs each chain's latest answer by its
probe's confidence (:meth:`~autotts.env.session.Session.probe_confidence`; a final
answer, or a probe without one, weighs 1): a chain whose probe barely commits to an
answer sways the vote, and the pruning against it, less. On data without confidences
every weight is 1 and it decides exactly as the plain controller.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from autotts.controllers.base import Controller, VectorisedRun
from autotts.controllers.composable.plain import Knobs
from autotts.controllers.schedules import budget_schedule
from autotts.controllers.stopping import record_stop, show
from autotts.controllers.voting import majority, weighted_majority
from autotts.errors import UsageError

if TYPE_CHECKING:
    from autotts.env.session import Session

__all__ = ["ParallelProbe", "pp_knobs"]


class ParallelProbe(Controller):
    name = "parallel-probe"

    def __init__(
        self,
        num_chains: int = 64,
        T: int = 40,
        prune_patience: int = 7,
        warm_up: int = 15,
        probe_burst: int = 1,
        max_steps: int = 100,
        confidence_weighted: bool = False,
    ) -> None:
        for key, value in {
            "num_chains": num_chains,
            "T": T,
            "prune_patience": prune_patience,
            "probe_burst": probe_burst,
            "max_steps": max_steps,  # 0 steps never reads a branch: always "no answer"
        }.items():
            if value < 1:
                raise UsageError(f"parallel-probe: {key} must be >= 1, got {value}")
        if warm_up < 0:
            raise UsageError(f"parallel-probe: warm_up must be >= 0, got {warm_up}")
        self.num_chains = num_chains
        self.T = T
        self.prune_patience = prune_patience
        self.warm_up = warm_up
        self.probe_burst = probe_burst
        self.max_steps = max_steps
        self.confidence_weighted = confidence_weighted

    def params(self) -> dict[str, Any]:
        out = super().params()
        if not self.confidence_weighted:  # records of the plain controller stay as they were
            del out["confidence_weighted"]
        return out

    @classmethod
    def from_beta(cls, beta: float) -> ParallelProbe:
        return cls(num_chains=budget_schedule(beta))

    def solve(self, session: Session) -> str | None:
        # Per chain, in opening order: session index, latest answer, flags, off-track count.
        index: list[int] = []
        latest: list[str] = []
        finished: list[bool] = []
        pruned: list[bool] = []
        off_track: list[int] = []
        # Per chain, the weight of its latest answer (confidence_weighted only).
        weight: list[float] = []
        weigh = self.confidence_weighted
        for _ in range(self.num_chains):
            if not session.can_branch:
                break
            answer, slot, done = session.probe_new()
            index.append(slot)
            latest.append(answer)
            finished.append(done)
            pruned.append(False)
            off_track.append(0)
            if weigh:
                weight.append(_weight(session, slot))
        if not index:
            record_stop(session, "no branches", "stop: no chain could be opened")
            return None
        n = len(index)

        stable, prev = 0, None
        for step in range(self.max_steps):
            # forward: every live chain reads probe_burst more probes
            for i in range(n):
                if pruned[i] or finished[i]:
                    continue
                for _ in range(self.probe_burst):
                    latest[i], finished[i] = session.probe_more(index[i])
                    if finished[i]:
                        break
                if weigh:
                    weight[i] = _weight(session, index[i])
            active = [i for i in range(n) if not pruned[i]]
            if not active:
                record_stop(session, "all pruned", f"answer {show(prev)}: every chain is pruned")
                return prev
            winner = self._vote(latest, weight, active)

            if step >= self.warm_up and len(active) > 1:
                for i in active:
                    if not finished[i]:
                        off_track[i] = off_track[i] + 1 if latest[i] != winner else 0
                newly_pruned = [
                    i for i in active if not finished[i] and off_track[i] >= self.prune_patience
                ]
                for i in newly_pruned:
                    pruned[i] = True
                if newly_pruned:
                    active = [i for i in active if not pruned[i]]
                    if not active:
                        record_stop(
                            session, "all pruned", f"answer {show(prev)}: every chain is pruned"
                        )
                        return prev
                    winner = self._vote(latest, weight, active)
                if session.tracing and newly_pruned:
                    session.trace(
                        "prune",
                        goal="drop chains that keep disagreeing with the majority",
                        input={"step": step, "prune_patience": self.prune_patience},
                        output={"branches": [index[i] for i in newly_pruned]},
                        state={"n_active": len(active)},
                        decision=f"prune {', '.join(str(index[i]) for i in newly_pruned)}: off "
                        f"the majority for >= {self.prune_patience} steps",
                    )

            stable = stable + 1 if winner == prev else 0
            prev = winner
            if session.tracing:
                session.trace(
                    "terminate_check",
                    goal="stop once the majority is stable",
                    input={"step": step},
                    output={"winner": winner, "stable": stable, "n_active": len(active)},
                    decision=self._check_text(winner, stable, finished, pruned),
                )
            if stable >= self.T:
                record_stop(
                    session,
                    "stable majority",
                    f"answer {show(winner)}: majority unchanged for {stable} >= T={self.T} steps",
                )
                return winner
            if all(finished[i] or pruned[i] for i in range(n)):
                record_stop(
                    session, "all chains done", f"answer {show(winner)}: every chain is done"
                )
                return winner
        record_stop(
            session, "step limit", f"answer {show(prev)}: max_steps={self.max_steps} reached"
        )
        return prev

    def _vote(self, latest: list[str], weight: list[float], active: list[int]) -> str | None:
        """The majority of the active chains' latest answers, weighted when asked to."""
        if not self.confidence_weighted:
            return majority([latest[i] for i in active])
        return weighted_majority([latest[i] for i in active], [weight[i] for i in active])

    def _check_text(
        self, winner: str | None, stable: int, finished: list[bool], pruned: list[bool]
    ) -> str:
        """The stop check's verdict with the values it was taken on."""
        if stable >= self.T:
            return f"stop: majority {show(winner)} stable for {stable} >= T={self.T} steps"
        left = sum(not (f or p) for f, p in zip(finished, pruned))
        if left == 0:
            return f"stop: every chain is done; majority {show(winner)}"
        return f"continue: majority {show(winner)} stable for {stable} < T={self.T}; {left} live"

    def vectorised(self) -> VectorisedRun | None:
        """The composable kernel on :func:`pp_knobs` of this controller (none for a
        confidence-weighted vote)."""
        if self.confidence_weighted:  # the batch kernel has no confidences: session by session
            return None
        # NumPy: the kernel needs it; the plain controller stays importable without it (PyPy's
        # worker, no NumPy)
        from autotts.controllers.composable.vectorised import run_parts

        knobs = pp_knobs(self)
        return lambda batch: run_parts(batch, knobs)


def pp_knobs(pp: ParallelProbe) -> Knobs:
    """Parallel-Probe with ``pp``'s settings as composable parts: a lock-step cohort of
    ``num_chains`` read ``probe_burst`` probes a round, pruned off the latest answers'
    majority, stopped once that majority is stable; the composed controller with these
    knobs returns exactly what :meth:`ParallelProbe.solve` returns. The parts have no
    confidence-weighted vote, so a ``confidence_weighted`` controller has none."""
    if pp.confidence_weighted:
        raise ValueError("parallel-probe: a confidence-weighted vote has no composable parts")
    return Knobs(
        widen="never", depth="burst", prune="latest", stop="stable", vote="latest",
        n_init=pp.num_chains, max_branches=pp.num_chains, burst_aligned=pp.probe_burst,
        burst_other=pp.probe_burst, patience=pp.prune_patience, warm_up=pp.warm_up,
        T_stable=pp.T, max_rounds=pp.max_steps,
    )  # fmt: skip


def _weight(session: Session, branch: int) -> float:
    """The vote weight of ``branch``'s latest answer: its confidence, 1 without one."""
    confidence = session.probe_confidence(branch)
    return 1.0 if confidence is None else confidence
