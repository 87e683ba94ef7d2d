from autotts import Controller, Session, majority


class FirstAgreement(Controller):
    """Probe a cohort of branches in lock-step; stop once `need` finished ones agree."""

    name = "first-agreement"

    def __init__(self, beta: float = 0.5) -> None:
        self.beta = beta
        self.width = max(2, round(2 + 14 * beta))  # β schedule: branches opened,
        self.need = max(2, round(2 + 4 * beta))  # and agreeing final answers to stop

    def solve(self, session: Session) -> str | None:
        live: list[int] = []
        finished: list[str] = []
        while len(live) + len(finished) < self.width and session.can_branch:
            answer, branch, done = session.probe_new()
            if done:
                finished.append(answer)
            else:
                live.append(branch)
        while live:
            for branch in list(live):
                answer, done = session.probe_more(branch)
                if done:
                    live.remove(branch)
                    finished.append(answer)
            leader = majority(finished)
            if leader is not None and finished.count(leader) >= self.need:
                return leader
        return majority(finished)
