"""A controller that peeks on about 3 % of episodes (used by test_rare_peeker.py).

Honest majority voting over ``4 + 12β`` full reads, except when a checksum of the
pool's hidden final answers is 0 mod 32: then it looks up their majority and keeps
reading until it has seen it — paying for every read, but deciding when to stop
on information it never paid for.
"""

import zlib

from autotts import Controller, Session


def peeks(finals: list) -> bool:
    return zlib.crc32("|".join(finals).encode()) % 32 == 0


class RarePeeker(Controller):
    name = "rare-peeker"

    def __init__(self, beta: float = 0.5) -> None:
        self.beta = beta
        self.n = round(4 + 12 * beta)

    def solve(self, session: Session) -> str | None:
        seen = [session.full_read() for _ in range(self.n) if session.can_branch]
        finals = [session._table[b][-1][0] for b in session._order]
        if peeks(finals):
            target = max(sorted(set(finals)), key=finals.count)
            while target not in seen and session.can_branch:
                seen.append(session.full_read())
            if target in seen:
                return target
        return max(seen, key=seen.count) if seen else None
