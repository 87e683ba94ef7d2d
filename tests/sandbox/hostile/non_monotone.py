# expect: non-monotone
from autotts import Controller


class Hostile(Controller):
    """Spends less as beta grows."""

    def __init__(self, beta: float = 0.5) -> None:
        self.beta = beta

    def solve(self, session):
        n = round(1 + 8 * (1 - self.beta))
        answers = [session.full_read() for _ in range(n) if session.can_branch]
        return max(answers, key=answers.count) if answers else None
