"""Crashes on every episode."""

from autotts import Controller, Session


class AlwaysFails(Controller):
    name = "always-fails"

    def __init__(self, beta: float = 0.5) -> None:
        self.beta = beta

    def solve(self, session: Session) -> str | None:
        raise ValueError("always")
