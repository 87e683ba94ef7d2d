# expect: crash
from autotts import Controller


class Hostile(Controller):
    """Exits the process with SystemExit(0)."""

    def __init__(self, beta: float = 0.5) -> None:
        self.beta = beta

    def solve(self, session):
        raise SystemExit(0)
