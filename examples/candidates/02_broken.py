"""Round 2 of the example search: a candidate that crashes (a typo in its state)."""

from autotts import Controller, Session


class Broken(Controller):
    name = "broken"

    def __init__(self, beta: float = 0.5) -> None:
        self.beta = beta
        self.width = 1 + round(7 * beta)

    def solve(self, session: Session) -> str | None:
        answers = [session.full_read() for _ in range(self.width)]
        return answers[self.widht]  # the typo this candidate demonstrates
