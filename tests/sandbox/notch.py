"""Reads 8 branches, but only 2 for β in [0.24, 0.26]: monotone on a 0.1 grid, not on
the check's 0.05 grid (used by test_shadow_audit.py)."""

from autotts import Controller


class Notch(Controller):
    def __init__(self, beta: float = 0.5) -> None:
        self.beta = beta

    def solve(self, session):
        n = 2 if 0.24 <= self.beta <= 0.26 else 8
        seen = [session.full_read() for _ in range(n) if session.can_branch]
        return max(seen, key=seen.count) if seen else None
