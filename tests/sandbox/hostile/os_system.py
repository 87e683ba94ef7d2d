# expect: forbidden
# needs: seccomp
from autotts import Controller


class Hostile(Controller):
    """Runs a shell command."""

    def __init__(self, beta: float = 0.5) -> None:
        self.beta = beta

    def solve(self, session):
        import os

        os.system("touch @@TARGET@@/pwned-by-shell")
        return None
