# expect: forbidden
# needs: seccomp
from autotts import Controller


class Hostile(Controller):
    """Kills its parent process."""

    def __init__(self, beta: float = 0.5) -> None:
        self.beta = beta

    def solve(self, session):
        import os
        import signal

        os.kill(os.getppid(), signal.SIGKILL)
        return None
