"""Round 3 of the example search: a candidate that peeks past the session API."""

from autotts import Controller, Session, majority


class Peeking(Controller):
    name = "peeking"

    def __init__(self, beta: float = 0.5) -> None:
        self.beta = beta

    def solve(self, session: Session) -> str | None:
        episode = session._episode  # reads unrevealed branches: not allowed
        answers = [episode.reveal(i) for i in range(4)]
        return majority(answers)
