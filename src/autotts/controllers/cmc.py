"""CMC — the Confidence Momentum Controller discovered by AutoTTS.

Idea: stop on a *smoothed* confidence, not an instantaneous one. The controller
keeps a pool of completed answers; its Beta majority confidence is smoothed by an
exponential moving average, and the episode stops once that EMA is high and not
falling. Branches that agree with the pool's winner are deepened faster; branches
that keep disagreeing are abandoned; new branches are opened while confidence is
not rising. One knob β sets all twelve settings through :func:`cmc_schedule`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import TYPE_CHECKING, Any

from autotts.controllers.base import Controller, VectorisedRun
from autotts.controllers.composable.plain import Knobs
from autotts.controllers.schedules import MAX_BRANCHES, check_beta
from autotts.controllers.stopping import record_stop, show
from autotts.controllers.voting import beta_confidence, majority, vote_stats
from autotts.errors import UnknownName, UsageError

if TYPE_CHECKING:
    from autotts.env.session import Session

__all__ = ["CMCSettings", "ConfidenceMomentum", "cmc_knobs", "cmc_schedule"]

#: Hard cap on rounds of the main loop.
MAX_ROUNDS = 500

#: Bounds of a setting given explicitly (default: >= 0). Below them the controller does
#: nothing useful: n_init = 0 opens no branch and answers nothing at 0 tokens, T_ema = 0
#: keeps no EMA history, burst_aligned = 0 never deepens an aligned branch.
_LIMITS: dict[str, tuple[float, float | None]] = {
    "n_init": (1, None),
    "max_branch_use": (1, None),
    "T_ema": (1, None),
    "burst_aligned": (1, None),
    "ema_alpha": (0, 1),
    "conf_thresh": (0, 1),
}


@dataclass(frozen=True)
class CMCSettings:
    n_init: int
    max_branch_use: int
    warm_up: int
    abandon_patience: int
    T_ema: int
    ema_alpha: float
    conf_thresh: float
    delta_slack: float
    burst_aligned: int
    widen_burst: int
    trend_thresh: float
    min_complete: int


def cmc_schedule(beta: float) -> CMCSettings:
    """β → CMC settings; larger β spends more (wider, deeper, harder to stop).

    Float settings are rounded to 4 decimals, as the published numbers were produced.
    """
    b = min(1.0, max(0.0, float(beta)))
    return CMCSettings(
        n_init=max(2, round(2 + 6 * b)),
        max_branch_use=min(MAX_BRANCHES, round(4 + 60 * b)),
        warm_up=max(2, round(2 + 8 * b)),
        abandon_patience=max(3, round(3 + 9 * b)),
        T_ema=max(2, round(2 + 6 * b)),
        ema_alpha=round(0.70 - 0.40 * b, 4),
        conf_thresh=round(0.85 + 0.12 * b, 4),
        delta_slack=round(0.04 - 0.03 * b, 4),
        burst_aligned=max(1, round(1 + 2 * b)),
        widen_burst=max(1, round(1 + 3 * b)),
        trend_thresh=round(0.04 - 0.03 * b, 4),
        min_complete=max(2, round(2 + 3 * b)),
    )


def cmc_knobs(s: CMCSettings) -> Knobs:
    """CMC with settings ``s`` as composable parts: the composed controller with these
    knobs returns exactly what :meth:`ConfidenceMomentum.solve` returns, and its
    vectorised kernel is CMC's fast path."""
    return Knobs(
        widen="trend", depth="burst", prune="pool", stop="momentum", vote="completed",
        n_init=s.n_init, max_branches=s.max_branch_use, widen_burst=s.widen_burst,
        trend_thresh=s.trend_thresh, burst_aligned=s.burst_aligned, burst_other=1,
        patience=s.abandon_patience, warm_up=s.warm_up, T_ema=s.T_ema, ema_alpha=s.ema_alpha,
        conf_thresh=s.conf_thresh, delta_slack=s.delta_slack, min_complete=s.min_complete,
        max_rounds=MAX_ROUNDS,
    )  # fmt: skip


class _Branch:
    __slots__ = ("abandoned", "disagree", "finished", "index", "latest", "probes")

    def __init__(self, index: int, latest: str, finished: bool) -> None:
        self.index = index
        self.latest = latest
        self.finished = finished
        self.abandoned = False
        self.probes = 0  # probe_more calls received
        self.disagree = 0  # consecutive rounds disagreeing with the pool winner

    @property
    def live(self) -> bool:
        return not (self.finished or self.abandoned)


class ConfidenceMomentum(Controller):
    name = "cmc"

    def __init__(self, beta: float = 0.5, **settings: float) -> None:
        """β sets every setting through :func:`cmc_schedule`; ``settings`` (any field of
        :class:`CMCSettings`, e.g. ``n_init=3``) override single ones afterwards."""
        self.beta = check_beta(beta)
        values: dict[str, Any] = asdict(cmc_schedule(self.beta))
        kinds = {f.name: f.type for f in fields(CMCSettings)}  # "int" or "float"
        for key, value in settings.items():
            if key not in kinds:
                raise UnknownName("setting of cmc", key, kinds)
            integral = isinstance(value, int) or kinds[key] == "float"
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not integral:
                kind = "an integer" if kinds[key] == "int" else "a number"
                raise UsageError(f"cmc: {key} must be {kind}, got {value!r}")
            low, high = _LIMITS.get(key, (0, None))
            if value < low or (high is not None and value > high):
                bound = f"in [{low}, {high}]" if high is not None else f">= {low}"
                raise UsageError(f"cmc: {key} must be {bound}, got {value!r}")
            values[key] = float(value) if kinds[key] == "float" else value
        self.settings = CMCSettings(**values)

    @classmethod
    def from_beta(cls, beta: float) -> ConfidenceMomentum:
        return cls(beta=beta)

    def params(self) -> dict[str, Any]:
        return {"beta": self.beta, **asdict(self.settings)}

    def solve(self, session: Session) -> str | None:
        s = self.settings
        branches: list[_Branch] = []
        completed: list[str] = []  # final answers, in the order branches finished

        def open_branches(count: int) -> None:
            for _ in range(count):
                if len(branches) >= s.max_branch_use or not session.can_branch:
                    return
                answer, slot, finished = session.probe_new()
                branches.append(_Branch(slot, answer, finished))
                if finished:
                    completed.append(answer)

        def pool() -> tuple[str | None, float]:
            winner, top1, top2 = vote_stats(completed)
            return winner, beta_confidence(top1, top2)

        def smooth(previous: float, value: float) -> float:
            return (1.0 - s.ema_alpha) * previous + s.ema_alpha * value

        open_branches(s.n_init)
        if session.tracing:
            session.trace(
                "init_branches",
                goal="open the initial branches",
                output={"opened": len(branches), "completed": list(completed)},
                decision=f"opened {len(branches)} branches (n_init={s.n_init})",
            )
        if not branches:
            record_stop(session, "no branches", "stop: no branch could be opened")
            return None

        ema = 0.0
        history: list[float] = []  # the last T_ema EMA values
        for rnd in range(MAX_ROUNDS):
            # 1. pool confidence, smoothed
            winner, conf = pool()
            warm = rnd >= s.warm_up
            ema = smooth(ema, conf)
            history.append(ema)
            del history[: -s.T_ema]

            # 2. abandon branches that keep disagreeing with the pool winner
            abandoned: list[int] = []
            if warm and winner is not None:
                live = [br for br in branches if br.live]
                for br in live:
                    br.disagree = br.disagree + 1 if br.latest != winner else 0
                stale = sorted(
                    (br for br in live if br.disagree >= s.abandon_patience),
                    key=lambda br: -br.disagree,
                )
                for br in stale[: max(0, len(live) - 2)]:
                    br.abandoned = True
                    abandoned.append(br.index)
                if abandoned and session.tracing:
                    session.trace(
                        "prune",
                        goal="abandon branches that keep disagreeing with the pool winner",
                        input={"round": rnd, "winner": winner},
                        output={"branches": abandoned},
                        state={"live": sum(br.live for br in branches)},
                        decision=f"abandon {', '.join(map(str, abandoned))}: disagreed with "
                        f"{show(winner)} for >= {s.abandon_patience} rounds",
                    )

            # 3. deepen: most-probed first; aligned branches get a longer burst
            for br in sorted((br for br in branches if br.live), key=lambda br: -br.probes):
                aligned = warm and winner is not None and br.latest == winner
                for _ in range(s.burst_aligned if aligned else 1):
                    br.latest, br.finished = session.probe_more(br.index)
                    br.probes += 1
                    if br.finished:
                        completed.append(br.latest)
                        break

            # 4. re-smooth with the new evidence (replaces this round's EMA entry)
            winner, conf = pool()
            ema = smooth(ema, conf)
            history[-1] = ema
            delta = history[-1] - history[0] if len(history) >= 2 else 0.0

            stop = (
                warm
                and len(completed) >= s.min_complete
                and ema >= s.conf_thresh
                and delta >= -s.delta_slack
            )
            if session.tracing:
                session.trace(
                    "terminate_check",
                    goal="stop when smoothed confidence is high and not falling",
                    input={"round": rnd, "abandoned": abandoned},
                    output={
                        "winner": winner,
                        "conf": conf,
                        "ema": ema,
                        "delta": delta,
                        "n_complete": len(completed),
                    },
                    state={"opened": len(branches), "live": sum(br.live for br in branches)},
                    decision=self._gate_text(stop, rnd, ema, delta, len(completed)),
                )
            # 5. stop gate
            if stop:
                record_stop(
                    session,
                    "confident",
                    f"answer {show(winner)}: EMA confidence {ema:.3f} >= {s.conf_thresh} "
                    f"after {rnd + 1} rounds, {len(completed)} complete",
                )
                return winner
            # 6. nothing left to read
            if not any(br.live for br in branches):
                break
            # 7. widen while confidence is not rising
            if delta <= s.trend_thresh and rnd >= max(1, s.warm_up // 2) and ema < s.conf_thresh:
                before = len(branches)
                open_branches(s.widen_burst)
                if session.tracing:
                    session.trace(
                        "update_states",
                        goal="widen while confidence is not rising",
                        input={"round": rnd, "delta": delta, "ema": ema},
                        output={"opened_now": len(branches) - before, "opened": len(branches)},
                        decision=f"widen by {len(branches) - before}: confidence not rising "
                        f"(Δ {delta:+.3f} <= {s.trend_thresh}, EMA {ema:.3f} < {s.conf_thresh})",
                    )

        reason = "round limit" if any(br.live for br in branches) else "nothing left to read"
        if completed:
            answer = pool()[0]
            record_stop(session, reason, f"answer {show(answer)}: majority of completed branches")
            return answer
        answer = majority([br.latest for br in branches if not br.abandoned])
        record_stop(session, reason, f"answer {show(answer)}: majority of the latest probes")
        return answer

    def _gate_text(self, stop: bool, rnd: int, ema: float, delta: float, complete: int) -> str:
        """The stop gate's verdict with the values it was taken on."""
        s = self.settings
        if stop:
            return (
                f"stop: EMA {ema:.3f} >= {s.conf_thresh}, Δ {delta:+.3f} >= -{s.delta_slack}, "
                f"{complete} complete >= {s.min_complete}"
            )
        why = []
        if rnd < s.warm_up:
            why.append(f"warming up (round {rnd} < {s.warm_up})")
        if complete < s.min_complete:
            why.append(f"{complete} complete < {s.min_complete}")
        if ema < s.conf_thresh:
            why.append(f"EMA {ema:.3f} < {s.conf_thresh}")
        if delta < -s.delta_slack:
            why.append(f"Δ {delta:+.3f} < -{s.delta_slack}")
        return "continue: " + ", ".join(why)

    def vectorised(self) -> VectorisedRun:
        """The composable kernel on :func:`cmc_knobs` of these settings."""
        # NumPy: the kernel needs it; the plain controller stays importable without it (PyPy's
        # worker, no NumPy)
        from autotts.controllers.composable.vectorised import run_parts

        knobs = cmc_knobs(self.settings)
        return lambda batch: run_parts(batch, knobs)
