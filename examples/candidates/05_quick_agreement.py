"""Round 5 of the example search: probe a cohort, stop at the first answer seen twice."""

from autotts import Controller, Session, majority


def quick_agreement_schedule(beta: float) -> tuple[int, int]:
    """β → (cohort width, finished answers that must agree): (2, 2) at β = 0, (12, 4) at 1."""
    return max(2, round(2 + 10 * beta)), max(2, round(2 + 2 * beta))


class QuickAgreement(Controller):
    name = "quick-agreement"

    def __init__(self, beta: float = 0.5) -> None:
        self.beta = beta
        self.width, self.need = quick_agreement_schedule(beta)

    def solve(self, session: Session) -> str | None:
        live: list[int] = []
        done: list[str] = []
        while len(live) + len(done) < self.width and session.can_branch:
            answer, branch, finished = session.probe_new()
            if finished:
                done.append(answer)
            else:
                live.append(branch)
        while live:
            for branch in list(live):
                answer, finished = session.probe_more(branch)
                if finished:
                    live.remove(branch)
                    done.append(answer)
            leader = majority(done)
            if leader is not None and done.count(leader) >= self.need:
                session.trace("finish", output={"stop_reason": "agreement"}, decision="agree")
                return leader
        session.trace("finish", output={"stop_reason": "all finished"})
        return majority(done)
