# expect: crash
from autotts import Controller


class Hostile(Controller):
    """Ends its process with os._exit(0) (exit code 0, no result)."""

    def __init__(self, beta: float = 0.5) -> None:
        self.beta = beta

    def solve(self, session):
        import os

        os._exit(0)
