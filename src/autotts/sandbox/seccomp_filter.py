"""The seccomp filter a worker installs on itself before it runs candidate code.

Every rule *kills the process* (``SIGSYS``) rather than returning an error, so an
attempt cannot be caught and hidden by the candidate: the parent sees the signal
and rejects the candidate with reason ``forbidden``. Threads stay allowed (``clone``
with ``CLONE_THREAD``); ``clone3`` answers ``ENOSYS`` so the C library falls back
to ``clone``, whose flags the filter can inspect.
"""

from __future__ import annotations

import contextlib
import errno
import os

__all__ = ["install_filter"]

_CLONE_THREAD = 0x00010000

#: Syscalls with no use in a controller after start-up: process creation, network,
#: file-system changes, tracing and reading other processes, namespaces, kernel objects.
_KILLED = (
    "fork",
    "vfork",
    "execve",
    "execveat",
    "socket",
    "socketpair",
    "connect",
    "bind",
    "listen",
    "accept",
    "accept4",
    "sendto",
    "sendmsg",
    "recvfrom",
    "ptrace",
    "process_vm_readv",
    "process_vm_writev",
    "creat",
    "unlink",
    "unlinkat",
    "rename",
    "renameat",
    "renameat2",
    "mkdir",
    "mkdirat",
    "rmdir",
    "link",
    "linkat",
    "symlink",
    "symlinkat",
    "chmod",
    "fchmod",
    "fchmodat",
    "chown",
    "fchown",
    "fchownat",
    "lchown",
    "truncate",
    "ftruncate",
    "mount",
    "umount2",
    "unshare",
    "setns",
    "chroot",
    "pivot_root",
    "bpf",
    "perf_event_open",
    "keyctl",
    "add_key",
    "request_key",
    "memfd_create",
    "personality",
    "setsid",
    "setpgid",
)

_WRITE_FLAGS = (os.O_WRONLY, os.O_RDWR, os.O_CREAT, os.O_TRUNC, os.O_APPEND)


def install_filter() -> None:
    """Install the filter on this process (and every thread it starts later).

    Raises ``ImportError``/``OSError`` when seccomp is unavailable; the caller reports
    the layer as missing.
    """
    import pyseccomp as sc

    f = sc.SyscallFilter(sc.ALLOW)
    for name in _KILLED:
        try:
            f.add_rule(sc.KILL_PROCESS, name)
        except (OSError, ValueError, RuntimeError):  # not a syscall on this architecture
            continue
    # Processes: plain clone() without CLONE_THREAD is a fork.
    f.add_rule(sc.KILL_PROCESS, "clone", sc.Arg(0, sc.MASKED_EQ, _CLONE_THREAD, 0))
    f.add_rule(sc.ERRNO(errno.ENOSYS), "clone3")
    f.add_rule(sc.ERRNO(errno.ENOSYS), "openat2")  # flags in a struct: force plain openat
    # Signals only to itself (no parent, no sibling).
    own = os.getpid()
    f.add_rule(sc.KILL_PROCESS, "kill", sc.Arg(0, sc.NE, own))
    f.add_rule(sc.KILL_PROCESS, "tgkill", sc.Arg(0, sc.NE, own))
    f.add_rule(sc.KILL_PROCESS, "tkill")
    # Files: opening anything for writing.
    for flag in _WRITE_FLAGS:
        f.add_rule(sc.KILL_PROCESS, "openat", sc.Arg(2, sc.MASKED_EQ, flag, flag))
        with contextlib.suppress(OSError, ValueError, RuntimeError):  # no open() on arm64
            f.add_rule(sc.KILL_PROCESS, "open", sc.Arg(1, sc.MASKED_EQ, flag, flag))
    f.load()
