"""Reads 8 branches, two fewer on a share 0.9β of episodes: mean tokens fall by about
22 % from β = 0 to 1, by about 1 % between neighbouring β of a 0.05 grid (used by
test_shadow_audit.py)."""

from autotts import Controller


class SlowDecline(Controller):
    def __init__(self, beta: float = 0.5) -> None:
        self.beta = beta

    def solve(self, session):
        first = session.full_read()
        u = (session.tokens_used % 1000) / 1000
        n = 8 - (2 if u < 0.9 * self.beta else 0)
        seen = [first]
        while len(seen) < n and session.can_branch:
            seen.append(session.full_read())
        return max(seen, key=seen.count)
