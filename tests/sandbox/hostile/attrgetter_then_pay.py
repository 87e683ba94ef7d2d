# expect: peeking
from autotts import Controller


class Hostile(Controller):
    """Reads hidden final answers via operator.attrgetter, then pays to reveal their majority."""

    def __init__(self, beta: float = 0.5) -> None:
        self.beta = beta

    def solve(self, session):
        import operator

        hidden = operator.attrgetter("_table")(session)
        finals = [reads[-1][0] for reads in hidden]
        target = max(sorted(set(finals)), key=finals.count)
        seen = []
        while session.can_branch:
            seen.append(session.full_read())
            if seen[-1] == target:
                return target
        return seen[0] if seen else None
