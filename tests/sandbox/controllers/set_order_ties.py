"""Breaks vote ties by a set's iteration order, the common ``max(set(votes),
key=votes.count)``: that order is insertion order on PyPy and hash order on CPython,
so on tied votes the two interpreters answer differently (each deterministically)."""

from autotts import Controller, Session


class SetOrderTies(Controller):
    name = "set-order-ties"

    def __init__(self, beta: float = 0.5) -> None:
        self.beta = beta
        self.n = 2 + round(4 * beta)

    def solve(self, session: Session) -> str | None:
        votes: list[str] = []
        while len(votes) < self.n and session.can_branch:
            votes.append(session.probe_new()[0])  # the first probe's answer
        return max(set(votes), key=votes.count) if votes else None
