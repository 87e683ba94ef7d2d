"""The seccomp filter a worker installs on itself before it runs candidate code.

An **allowlist**: the default action kills the process (``SIGSYS``), so a system call
nobody thought of — ``io_uring_setup``, ``mknodat``, ``setxattr``, ``utimensat``,
``rt_sigqueueinfo``, ``pidfd_send_signal``, ``reboot``, ``socket`` … — is as
forbidden as the ones one did. Killing rather than returning an error means an
attempt cannot be caught and hidden by the candidate: the parent sees the signal and
rejects the candidate with reason ``forbidden``.

The list is what CPython and Debian's PyPy (7.3.11) call after start-up to run a
controller: read and write on descriptors already open, read-only ``openat``, the
stat family, memory mapping, futexes, clocks, signals to itself, threads. It was
found with ``strace -f`` on workers running the example controllers and the honest
test controllers under both interpreters, traced and untraced. Threads stay allowed
(``clone`` with ``CLONE_THREAD``); ``clone3`` and ``openat2`` answer ``ENOSYS`` (their
flags sit in a struct the filter cannot read) so the C library falls back to
``clone`` and ``openat``, whose flags it can.

Runs on Python 3.9 (Debian's PyPy starts the worker too).
"""

from __future__ import annotations

import contextlib
import errno
import os

__all__ = ["ALLOWED", "install_filter"]

#: Allowed whatever their arguments: they act on this process, its memory, or
#: descriptors it already holds (its pipes to the parent, /dev/null, stderr's file).
ALLOWED = (
    # descriptors already open
    "read",
    "readv",
    "pread64",
    "preadv",
    "preadv2",
    "write",
    "writev",
    "lseek",
    "close",
    "dup",
    "dup2",
    "dup3",
    "poll",
    "ppoll",
    "select",
    "pselect6",
    # metadata and folder listings (what is visible is Landlock's or bubblewrap's call)
    "fstat",
    "stat",
    "lstat",
    "newfstatat",
    "statx",
    "statfs",
    "fstatfs",
    "access",
    "faccessat",
    "faccessat2",
    "readlink",
    "readlinkat",
    "getdents64",
    "getcwd",
    # memory
    "brk",
    "mmap",
    "munmap",
    "mremap",
    "mprotect",
    "madvise",
    "mincore",
    "mbind",
    "get_mempolicy",
    "membarrier",
    # threads and their synchronisation
    "futex",
    "set_robust_list",
    "get_robust_list",
    "set_tid_address",
    "rseq",
    "sched_yield",
    "sched_getaffinity",
    "sched_getparam",
    "sched_getscheduler",
    "sched_get_priority_max",
    "sched_get_priority_min",
    "getpriority",
    "getcpu",
    "exit",
    "exit_group",
    "restart_syscall",
    # time
    "clock_gettime",
    "clock_getres",
    "clock_nanosleep",
    "nanosleep",
    "gettimeofday",
    "time",
    "times",
    "getrusage",
    "alarm",  # timers signal this process only
    "getitimer",
    "setitimer",
    "pause",
    # signal handling within this process (sending: kill/tgkill below)
    "rt_sigaction",
    "rt_sigprocmask",
    "rt_sigreturn",
    "rt_sigpending",
    "rt_sigsuspend",
    "rt_sigtimedwait",
    "sigaltstack",
    # who am I
    "getpid",
    "gettid",
    "getppid",
    "getuid",
    "geteuid",
    "getgid",
    "getegid",
    "getresuid",
    "getresgid",
    "getgroups",
    "getpgrp",
    "getpgid",
    "getsid",
    "uname",
    "sysinfo",
    "getrandom",
)

_CLONE_THREAD = 0x00010000
#: ``open``/``openat`` flags that write or create; ``__O_TMPFILE`` (an unnamed file made
#: for writing) on top: ``O_TMPFILE`` without the ``O_DIRECTORY`` bit it includes, which
#: every listing of a folder sets. (PyPy 3.9's os lacks the constant: Linux's value.)
_TMPFILE_ONLY = getattr(os, "O_TMPFILE", 0o20200000) & ~os.O_DIRECTORY
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND | _TMPFILE_ONLY
_TCGETS, _FIONREAD = 0x5401, 0x541B  # isatty(), and bytes waiting on a pipe
_F_DUPFD, _F_GETFD, _F_SETFD, _F_GETFL, _F_SETFL, _F_DUPFD_CLOEXEC = 0, 1, 2, 3, 4, 1030
_PR_SET_NAME, _PR_GET_NAME = 15, 16


def install_filter() -> None:
    """Install the filter on this process (and every thread it starts later).

    Raises ``ImportError``/``OSError`` when seccomp is unavailable; the caller reports
    the layer as missing.
    """
    # an optional dependency (the sandbox extra): the caller reports the layer missing
    import pyseccomp as sc

    f = sc.SyscallFilter(sc.KILL_PROCESS)
    for name in ALLOWED:
        try:
            f.add_rule(sc.ALLOW, name)
        except (OSError, ValueError, RuntimeError):  # not a syscall on this architecture
            continue
    # Threads, not processes: clone() without CLONE_THREAD is a fork.
    f.add_rule(sc.ALLOW, "clone", sc.Arg(0, sc.MASKED_EQ, _CLONE_THREAD, _CLONE_THREAD))
    f.add_rule(sc.ERRNO(errno.ENOSYS), "clone3")
    f.add_rule(sc.ERRNO(errno.ENOSYS), "openat2")
    # Files: opening for reading only (what is there to read is Landlock's or bubblewrap's
    # call).
    f.add_rule(sc.ALLOW, "openat", sc.Arg(2, sc.MASKED_EQ, _WRITE_FLAGS, 0))
    with contextlib.suppress(OSError, ValueError, RuntimeError):  # no open() on arm64
        f.add_rule(sc.ALLOW, "open", sc.Arg(1, sc.MASKED_EQ, _WRITE_FLAGS, 0))
    # Signals only to itself (no parent, no sibling; tkill names a thread of anyone).
    own = os.getpid()
    f.add_rule(sc.ALLOW, "kill", sc.Arg(0, sc.EQ, own))
    f.add_rule(sc.ALLOW, "tgkill", sc.Arg(0, sc.EQ, own))
    # Descriptor flags only: F_SETOWN/F_SETSIG would route SIGIO to another process.
    for command in (_F_DUPFD, _F_GETFD, _F_SETFD, _F_GETFL, _F_SETFL, _F_DUPFD_CLOEXEC):
        f.add_rule(sc.ALLOW, "fcntl", sc.Arg(1, sc.EQ, command))
    # Terminal queries only (TIOCSTI on a terminal would type commands into it).
    for request in (_TCGETS, _FIONREAD):
        f.add_rule(sc.ALLOW, "ioctl", sc.Arg(1, sc.EQ, request))
    # Thread names; every other prctl (dumpable, ptracer, seccomp mode …) is killed.
    for option in (_PR_SET_NAME, _PR_GET_NAME):
        f.add_rule(sc.ALLOW, "prctl", sc.Arg(0, sc.EQ, option))
    # Reading its own limits (resource.getrlimit); setting any is killed.
    f.add_rule(sc.ALLOW, "prlimit64", sc.Arg(2, sc.EQ, 0))
    f.add_rule(sc.ALLOW, "getrlimit")
    f.load()
