# expect: bad-return
from autotts import Controller


class Hostile(Controller):
    """Returns a str subclass that compares equal to everything."""

    def __init__(self, beta: float = 0.5) -> None:
        self.beta = beta

    def solve(self, session):
        class Everything(str):
            def __eq__(self, other):
                return True

            __hash__ = str.__hash__

        return Everything(session.full_read())
