# expect: memory
from autotts import Controller


class Hostile(Controller):
    """Allocates far more memory than allowed."""

    def __init__(self, beta: float = 0.5) -> None:
        self.beta = beta

    def solve(self, session):
        hoard = bytearray(16 * 1024**3)
        return str(len(hoard))
