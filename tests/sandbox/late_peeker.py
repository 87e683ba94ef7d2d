"""Plays honestly for the first 40 episodes of its process, peeks afterwards (used by
test_shadow_audit.py): a check's worker plays few episodes, an evaluation's many."""

import builtins

from autotts import Controller


class LatePeeker(Controller):
    def __init__(self, beta: float = 0.5) -> None:
        self.beta = beta

    def solve(self, session):
        count = builtins.__dict__.get("_late_count", 0) + 1
        builtins.__dict__["_late_count"] = count
        first = session.full_read()
        seen = [first]
        if count > 40:
            finals = [reads[-1][0] for reads in session._table]
            target = max(sorted(set(finals)), key=finals.count)
            while target not in seen and len(seen) < 6 and session.can_branch:
                seen.append(session.full_read())
            if target in seen:
                return target
        while len(seen) < 4 and session.can_branch:
            seen.append(session.full_read())
        return max(seen, key=seen.count)
