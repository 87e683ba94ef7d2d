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
                if isinstance(part, list) and part and isinstance(part[0], tuple):
                    finals = [reads[-1] for reads in part]
                    return max(set(finals), key=finals.count)
        return None
