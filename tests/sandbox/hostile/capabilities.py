# expect: forbidden
from autotts import Controller


class Hostile(Controller):
    """Probes for root's capabilities: reboot() with a wrong second magic number fails
    with EPERM without CAP_SYS_BOOT and with EINVAL with it (never a valid magic)."""

    def __init__(self, beta: float = 0.5) -> None:
        self.beta = beta

    def solve(self, session):
        import ctypes
        import errno

        libc = ctypes.CDLL(None, use_errno=True)
        libc.syscall(169, 0xFEE1DEAD, 0x12345678, 0, None)  # reboot, invalid magic2
        code = ctypes.get_errno()
        if code == errno.EPERM:
            raise PermissionError(code, "no CAP_SYS_BOOT")
        return f"has CAP_SYS_BOOT (errno {code})"
