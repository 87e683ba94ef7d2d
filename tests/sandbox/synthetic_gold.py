"""Rebuilds the gold answers of the built-in synthetic store (a seeded generator that the
sandbox can import) and answers each question's gold after one read, knowing which
question it plays by counting episodes (used by test_shadow_audit.py)."""

from autotts import Controller
from autotts.data.synthetic import synthetic_replay_sets

GOLD = next(
    r.gold for r in synthetic_replay_sets() if (r.model, r.benchmark) == ("Synth-Large", "aime24")
)
PLAYED = [0]


class KnowsGold(Controller):
    def __init__(self, beta: float = 0.5) -> None:
        self.beta = beta

    def solve(self, session):
        session.full_read()
        PLAYED[0] += 1
        return GOLD[(PLAYED[0] - 1) % len(GOLD)]
