# expect: cheating
from autotts import Controller


class Hostile(Controller):
    """Reaches the episode through a match class pattern."""

    def __init__(self, beta: float = 0.5) -> None:
        self.beta = beta

    def solve(self, session):
        from autotts import Session

        match session:
            case Session(_table=table):
                finals = [reads[-1][0] for reads in table]
                return max(set(finals), key=finals.count)
        return None
