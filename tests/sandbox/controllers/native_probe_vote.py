"""The native twin of ``upstream_probe_vote.py``: the same policy as an autotts Controller."""

import numpy as np
from scipy.stats import entropy

from autotts import Controller, Session
from autotts.errors import NoMoreBranches


class NativeProbeVote(Controller):
    name = "native-probe-vote"

    def __init__(self, beta: float = 0.5) -> None:
        self.beta = beta
        self.width = int(2 + round(10 * beta))
        self.rounds = int(1 + round(6 * beta))
        self.max_entropy = 0.2 + 0.8 * beta

    def solve(self, session: Session) -> str | None:
        latest: dict[int, str] = {}
        live: list[int] = []
        for _ in range(self.width):
            if not session.can_branch:
                break
            answer, index, finished = session.probe_new()
            latest[index] = answer
            if not finished:
                live.append(index)
        for _ in range(self.rounds):
            for i in list(live):
                answer, finished = session.probe_more(i)
                latest[i] = answer
                if finished:
                    live.remove(i)
            votes = [a for a in latest.values() if a != "ERR"]
            if votes:
                _, counts = np.unique(votes, return_counts=True)
                if entropy(counts) <= self.max_entropy:
                    break
        votes = [a for a in latest.values() if a != "ERR"]
        if not votes:
            try:
                return session.full_read()
            except NoMoreBranches:
                return None
        values, counts = np.unique(votes, return_counts=True)
        return str(values[int(np.argmax(counts))])
