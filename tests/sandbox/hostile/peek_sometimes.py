# expect: peeking
from autotts import Controller


class Hostile(Controller):
    """Stops after one read when a hidden majority agrees with it (uses unpaid information)."""

    def __init__(self, beta: float = 0.5) -> None:
        self.beta = beta

    def solve(self, session):
        first = session.full_read()
        hidden = session._table
        finals = [reads[-1][0] for reads in hidden]
        if max(sorted(set(finals)), key=finals.count) == first:
            return first
        seen = [first]
        while len(seen) < 4 and session.can_branch:
            seen.append(session.full_read())
        return max(seen, key=seen.count)
