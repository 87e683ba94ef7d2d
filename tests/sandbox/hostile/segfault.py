# expect: crash
from autotts import Controller


class Hostile(Controller):
    """Crashes the interpreter with a segmentation fault."""

    def __init__(self, beta: float = 0.5) -> None:
        self.beta = beta

    def solve(self, session):
        import ctypes

        return ctypes.string_at(0)
