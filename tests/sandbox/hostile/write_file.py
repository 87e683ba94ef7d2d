# expect: forbidden
from autotts import Controller


class Hostile(Controller):
    """Writes a file on the host."""

    def __init__(self, beta: float = 0.5) -> None:
        self.beta = beta

    def solve(self, session):
        with open("@@TARGET@@/written.txt", "w") as handle:
            handle.write("pwned")
        return None
