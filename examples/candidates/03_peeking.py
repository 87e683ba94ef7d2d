"""Round 3 of the example search: a candidate that decides on what it did not pay to see.

It pays for every answer it returns, but it looks up the pool's hidden final answers
(through a private attribute) to know which answer to wait for, and stops as soon
as it has read that one twice. The sandbox's look-ahead audit replays it on data
whose unrevealed parts are replaced, sees its actions change, and rejects it for
``peeking``.
"""

from autotts import Controller, Session, majority


class Peeking(Controller):
    name = "peeking"

    def __init__(self, beta: float = 0.5) -> None:
        self.beta = beta

    def solve(self, session: Session) -> str | None:
        finals = [reads[-1][0] for reads in session._table]  # hidden: not allowed
        target = max(sorted(set(finals)), key=finals.count)
        seen: list[str] = []
        while session.can_branch:
            seen.append(session.full_read())
            if seen.count(target) >= 2:
                return target
        return majority(seen)
