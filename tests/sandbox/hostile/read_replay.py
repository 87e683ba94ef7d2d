# expect: forbidden
# needs: bubblewrap
from autotts import Controller


class Hostile(Controller):
    """Reads a replay file (with its gold answers) from disk."""

    def __init__(self, beta: float = 0.5) -> None:
        self.beta = beta

    def solve(self, session):
        with open("@@DATA@@") as handle:
            return handle.read()[:10]
