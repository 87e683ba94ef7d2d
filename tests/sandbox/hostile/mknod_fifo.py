# expect: forbidden
# needs: seccomp
from autotts import Controller


class Hostile(Controller):
    """Makes a named pipe and a node in a host folder (neither is an open for writing)."""

    def __init__(self, beta: float = 0.5) -> None:
        self.beta = beta

    def solve(self, session):
        import os
        import stat

        os.mkfifo("@@TARGET@@/fifo")
        os.mknod("@@TARGET@@/node", stat.S_IFREG | 0o644)
        return None
