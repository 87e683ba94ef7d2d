"""An honest controller that decides on probe confidences (used by test_confidence_sandbox.py).

Probes a cohort of ``2 + 6β`` branches in lock-step and weighs each latest answer by
its confidence (1 without one); stops once the leader's weight reaches ``1 + 3β``.
"""

from autotts import Controller, Session, weighted_majority


class ConfidentStop(Controller):
    name = "confident-stop"

    def __init__(self, beta: float = 0.5) -> None:
        self.beta = beta
        self.width = 2 + round(6 * beta)
        self.need = 1.0 + 3.0 * beta

    def solve(self, session: Session) -> str | None:
        latest: dict[int, str] = {}
        weight: dict[int, float] = {}
        live: list[int] = []
        for _ in range(self.width):
            if not session.can_branch:
                break
            answer, branch, finished = session.probe_new()
            latest[branch] = answer
            if not finished:
                live.append(branch)
        for _ in range(60):
            for branch in list(latest):
                confidence = session.probe_confidence(branch)
                weight[branch] = 1.0 if confidence is None else confidence
            votes = [b for b in latest if latest[b] != "ERR"]
            leader = weighted_majority([latest[b] for b in votes], [weight[b] for b in votes])
            total = sum(weight[b] for b in votes if latest[b] == leader)
            if session.tracing:
                session.trace("check", output={"leader": leader, "weight": total})
            if (leader is not None and total >= self.need) or not live:
                return leader
            for branch in list(live):
                latest[branch], finished = session.probe_more(branch)
                if finished:
                    live.remove(branch)
        return None
