"""An upstream-format controller (the shape of the AutoTTS paper's released files).

``__init__(self, config=None)`` reads ``config["beta"]``; ``solve(question)`` calls
``probe_new()``, ``probe_more(i)`` and ``get_new_branch_final_answer()``. Its native
twin is ``native_probe_vote.py``: the same policy written against autotts.
"""

import numpy as np
from scipy.stats import entropy


class ProbeVote:
    def __init__(self, config=None):
        config = config or {}
        self.beta = float(config.get("beta", 0.5))
        self.width = int(2 + round(10 * self.beta))
        self.rounds = int(1 + round(6 * self.beta))
        self.max_entropy = 0.2 + 0.8 * self.beta

    def solve(self, question):
        latest = {}
        live = []
        for _ in range(self.width):
            try:
                answer, index, finished = question.probe_new()
            except (IndexError, ValueError):
                break
            latest[index] = answer
            if not finished:
                live.append(index)
        for _ in range(self.rounds):
            for i in list(live):
                answer, finished = question.probe_more(i)
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
                return question.get_new_branch_final_answer()
            except (IndexError, ValueError):
                return None
        values, counts = np.unique(votes, return_counts=True)
        return str(values[int(np.argmax(counts))])
