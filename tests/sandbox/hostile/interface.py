# expect: interface
from autotts import Controller


class Hostile(Controller):
    """Has a second tunable parameter besides beta."""

    def __init__(self, beta: float = 0.5, width: int = 4) -> None:
        self.beta, self.width = beta, width

    def solve(self, session):
        return None
