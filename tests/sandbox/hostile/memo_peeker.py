# expect: peeking
"""Keeps a memo across episodes: peeks once per question, replays the memo on its twin.

It stops on the first read that agrees with the majority of the hidden final answers
(read from the session's internals) and memoises that majority in ``builtins``, keyed
by what it has revealed, so that a counterfactual twin in the same process (identical
in everything revealed) is played exactly like the real episode. The shadow audit
replays it in a fresh process, where the memo is empty.
"""

import builtins

from autotts import Controller


class Hostile(Controller):
    def __init__(self, beta: float = 0.5) -> None:
        self.beta = beta

    def solve(self, session):
        memo = builtins.__dict__.setdefault("_hostile_memo", {})
        first = session.full_read()
        key = (first, session.tokens_used)
        if key not in memo:
            finals = [reads[-1][0] for reads in session._table]
            memo[key] = max(sorted(set(finals)), key=finals.count)
        target = memo[key]
        seen = [first]
        while target not in seen and len(seen) < 6 and session.can_branch:
            seen.append(session.full_read())
        return target if target in seen else max(seen, key=seen.count)
