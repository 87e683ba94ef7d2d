# expect: forbidden
# needs: seccomp
from autotts import Controller


class Hostile(Controller):
    """Kills its parent (the evaluator) through a pidfd: pidfd_open + pidfd_send_signal."""

    def __init__(self, beta: float = 0.5) -> None:
        self.beta = beta

    def solve(self, session):
        import ctypes
        import os
        import signal

        libc = ctypes.CDLL(None, use_errno=True)
        pidfd = libc.syscall(434, os.getppid(), 0)  # pidfd_open
        if pidfd < 0:
            raise OSError(ctypes.get_errno(), "pidfd_open")
        if libc.syscall(424, pidfd, signal.SIGKILL, None, 0) != 0:  # pidfd_send_signal
            raise OSError(ctypes.get_errno(), "pidfd_send_signal")
        return None
