# expect: cheating
from autotts import Controller


class Hostile(Controller):
    """Erases its action log to hide what it read."""

    def __init__(self, beta: float = 0.5) -> None:
        self.beta = beta

    def solve(self, session):
        answers = [session.full_read() for _ in range(4)]
        session.log.clear()
        return answers[0]
