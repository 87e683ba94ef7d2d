# expect: timeout
from autotts import Controller


class Hostile(Controller):
    """Never returns."""

    def __init__(self, beta: float = 0.5) -> None:
        self.beta = beta

    def solve(self, session):
        while True:
            pass
