# expect: forbidden
from autotts import Controller


class Hostile(Controller):
    """Plants a bytecode file for a module imported later."""

    def __init__(self, beta: float = 0.5) -> None:
        self.beta = beta

    def solve(self, session):
        import os

        import autotts

        cache = os.path.join(os.path.dirname(autotts.__file__), "__pycache__")
        os.makedirs(cache, exist_ok=True)
        with open(os.path.join(cache, "hostile.cpython-311.pyc"), "wb") as handle:
            handle.write(b"pwned")
        return None
