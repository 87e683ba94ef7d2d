# expect: nondeterministic
from autotts import Controller


class Hostile(Controller):
    """Reads a random number of branches."""

    def __init__(self, beta: float = 0.5) -> None:
        self.beta = beta

    def solve(self, session):
        import random

        n = random.randint(1, 6)
        answers = [session.full_read() for _ in range(n) if session.can_branch]
        return answers[0] if answers else None
