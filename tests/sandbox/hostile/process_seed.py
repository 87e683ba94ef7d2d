# expect: nondeterministic
"""Random per process, fixed within it: the same episodes in any order play the same in
one worker, so only a second process shows that its numbers are not reproducible."""

import random

from autotts import Controller

SEED = random.SystemRandom().randrange(1 << 30)


class Hostile(Controller):
    def __init__(self, beta: float = 0.5) -> None:
        self.beta = beta

    def solve(self, session):
        reads = [session.full_read() for _ in range(2 + SEED % 3) if session.can_branch]
        return max(reads, key=reads.count) if reads else None
