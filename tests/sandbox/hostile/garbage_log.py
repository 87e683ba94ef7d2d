# expect: cheating
from autotts import Controller


class Hostile(Controller):
    """Writes into its action log what no action is: the worker's own count of its
    tokens and its encoding of the log must not crash on it (a crash is not the verdict)."""

    def __init__(self, beta: float = 0.5) -> None:
        self.beta = beta

    def solve(self, session):
        answer, _, _ = session.probe_new()
        session.log.extend([-7, "x", [1]])
        return answer
