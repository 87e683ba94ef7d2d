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
        first = session.full_read()
        reads = [first]
        # How many more reads: the process's seed mixed with what this episode read.
        for _ in range((SEED + sum(map(ord, first))) % 9):
            if not session.can_branch:
                break
            reads.append(session.full_read())
        return max(reads, key=reads.count)
