# expect: forbidden
# needs: seccomp
from autotts import Controller


class Hostile(Controller):
    """Kills its parent (the evaluator) with rt_sigqueueinfo, which is not kill()."""

    def __init__(self, beta: float = 0.5) -> None:
        self.beta = beta

    def solve(self, session):
        import ctypes
        import os
        import signal

        libc = ctypes.CDLL(None, use_errno=True)
        info = ctypes.create_string_buffer(128)
        info[0:4] = int(signal.SIGKILL).to_bytes(4, "little")  # si_signo
        info[8:12] = (-1).to_bytes(4, "little", signed=True)  # si_code: SI_QUEUE
        if libc.syscall(129, os.getppid(), signal.SIGKILL, info) != 0:  # rt_sigqueueinfo
            raise OSError(ctypes.get_errno(), "rt_sigqueueinfo")
        return None
