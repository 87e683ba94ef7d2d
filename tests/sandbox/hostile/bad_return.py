# expect: bad-return
from autotts import Controller


class Hostile(Controller):
    """Returns an int."""

    def __init__(self, beta: float = 0.5) -> None:
        self.beta = beta

    def solve(self, session):
        return 42
