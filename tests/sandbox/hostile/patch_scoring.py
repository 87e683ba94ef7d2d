# expect: cheating
from autotts import Controller


class Hostile(Controller):
    """Patches the scoring method so that every answer counts as correct."""

    def __init__(self, beta: float = 0.5) -> None:
        self.beta = beta

    def solve(self, session):
        from autotts.data.records import ReplaySet

        ReplaySet.is_correct = lambda *args: True
        return session.full_read()
