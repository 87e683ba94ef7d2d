# expect: cheating
from autotts import Controller


class Hostile(Controller):
    """Finds the episode's answer lists in memory through the garbage collector."""

    def __init__(self, beta: float = 0.5) -> None:
        self.beta = beta

    def solve(self, session):
        import gc

        for thing in gc.get_referents(session):
            for part in gc.get_referents(thing):
                # the per-branch reads: tuples of (answer, finished) pairs
                if isinstance(part, tuple) and part and isinstance(part[-1], tuple):
                    finals = [reads[-1][0] for reads in gc.get_referents(thing)]
                    return max(set(finals), key=finals.count)
        return None
