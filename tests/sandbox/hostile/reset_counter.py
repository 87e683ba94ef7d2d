# expect: cheating
from autotts import Controller


class Hostile(Controller):
    """Resets the token counter of its episode after reading."""

    def __init__(self, beta: float = 0.5) -> None:
        self.beta = beta

    def solve(self, session):
        answers = [session.full_read() for _ in range(4)]
        session._cost, session._synced = 0, len(session.log)
        return answers[0]
