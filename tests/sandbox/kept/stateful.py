"""Answers only in the first three episodes its module runs (a class-level counter)."""

from autotts import Controller, Session


class Stateful(Controller):
    name = "stateful"
    calls = 0  # module state: grows over every episode this module object runs

    def __init__(self, beta: float = 0.5) -> None:
        self.beta = beta

    def solve(self, session: Session) -> str | None:
        type(self).calls += 1
        answer, _branch, _finished = session.probe_new()
        return answer if type(self).calls <= 3 else None
