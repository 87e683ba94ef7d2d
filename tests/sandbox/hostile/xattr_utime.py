# expect: forbidden
# needs: seccomp
from autotts import Controller


class Hostile(Controller):
    """Changes a host folder's times and extended attributes (no file opened at all)."""

    def __init__(self, beta: float = 0.5) -> None:
        self.beta = beta

    def solve(self, session):
        import os

        os.utime("@@TARGET@@", (0, 0))
        os.setxattr("@@TARGET@@", "user.autotts", b"hostile")
        return None
