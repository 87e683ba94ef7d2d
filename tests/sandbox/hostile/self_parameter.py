# expect: cheating
from autotts import Controller


class Hostile(Controller):
    """Reads private state through a helper whose first parameter is named self."""

    def __init__(self, beta: float = 0.5) -> None:
        self.beta = beta

    def solve(self, session):
        def peek(self):
            return self._table

        finals = [reads[-1][0] for reads in peek(session)]
        return max(set(finals), key=finals.count)
