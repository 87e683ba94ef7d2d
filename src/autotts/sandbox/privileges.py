"""The worker gives up privileges before any candidate code runs.

* ``no_new_privs``: no exec (were one allowed) can gain privileges, and Landlock and
  seccomp may then be installed without any capability;
* dropping root: a worker started as root (a container's default user) becomes
  ``nobody`` with no supplementary groups, where ``nobody`` can read what it imports
  (the parent checks; an interpreter under ``/root``, mode 0700, cannot be read by it);
* dropping every capability either way (effective, permitted, inheritable, ambient and
  the bounding set): no ``reboot``, raw I/O, ``mknod`` of devices, reading any
  process's ``/proc/<pid>/environ`` or ``mem`` through ``CAP_SYS_PTRACE``, overriding
  file permissions. A worker that stays uid 0 still owns root's files: Landlock or
  bubblewrap (one of which a worker always has) is what keeps it from them.

Runs on Python 3.9 (Debian's PyPy starts the worker too), standard library only.
"""

from __future__ import annotations

import ctypes
import os

__all__ = [
    "UNPRIVILEGED_ID",
    "drop_capabilities",
    "drop_root",
    "effective_capabilities",
    "set_no_new_privs",
]

#: The uid and gid a root worker becomes (``nobody``/``nogroup`` on Debian).
UNPRIVILEGED_ID = 65534

_PR_SET_NO_NEW_PRIVS = 38
_PR_CAPBSET_DROP = 24
_PR_CAP_AMBIENT, _PR_CAP_AMBIENT_CLEAR_ALL = 47, 4
_CAP_SETPCAP = 8
_CAPABILITY_VERSION_3 = 0x20080522
_CAP_SETGID, _CAP_SETUID = 6, 7


def set_no_new_privs() -> None:
    """Set ``no_new_privs`` on this process for good; raises ``OSError`` if refused."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        code = ctypes.get_errno()
        raise OSError(code, f"prctl(PR_SET_NO_NEW_PRIVS): {os.strerror(code)}")


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [
        ("effective", ctypes.c_uint32),
        ("permitted", ctypes.c_uint32),
        ("inheritable", ctypes.c_uint32),
    ]


def effective_capabilities() -> int:
    """This process's effective and permitted capabilities together (a bit mask), from
    ``capget`` (``/proc`` may be gone by then). The ambient set is a subset of the
    permitted one; the bounding set only limits what an exec could gain, and no exec can
    (a user's process keeps a full one it may not drop)."""
    libc = ctypes.CDLL(None, use_errno=True)
    header = _CapHeader(_CAPABILITY_VERSION_3, 0)
    data = (_CapData * 2)()
    if libc.capget(ctypes.byref(header), data) != 0:
        code = ctypes.get_errno()
        raise OSError(code, f"capget: {os.strerror(code)}")
    found = 0
    for half, entry in enumerate(data):
        found |= (entry.effective | entry.permitted) << (32 * half)
    return found


def drop_capabilities() -> None:
    """Empty every capability set of this process for good (a no-op for a process that
    has none); raises ``OSError`` if the kernel refuses."""
    libc = ctypes.CDLL(None, use_errno=True)
    if effective_capabilities() & (1 << _CAP_SETPCAP):
        # The bounding set first (it needs CAP_SETPCAP, which capset then removes).
        try:
            with open("/proc/sys/kernel/cap_last_cap") as last:
                top = int(last.read())
        except (OSError, ValueError):
            top = 63
        for cap in range(top + 1):
            libc.prctl(_PR_CAPBSET_DROP, cap, 0, 0, 0)
    libc.prctl(_PR_CAP_AMBIENT, _PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)
    header = _CapHeader(_CAPABILITY_VERSION_3, 0)
    data = (_CapData * 2)()  # all zero: both 32-bit halves of every set
    if libc.capset(ctypes.byref(header), data) != 0:
        code = ctypes.get_errno()
        raise OSError(code, f"capset: {os.strerror(code)}")


def drop_root(uid: int = UNPRIVILEGED_ID) -> bool:
    """If this process is root and may change its ids, become ``uid`` for good (real,
    effective and saved ids, no supplementary groups). Returns whether it did.

    Raises ``OSError`` if the drop started but did not take: the caller must not go on.
    """
    if os.geteuid() != 0:
        return False
    if effective_capabilities() & ((1 << _CAP_SETUID) | (1 << _CAP_SETGID)) == 0:
        return False  # root without the capabilities to change ids (e.g. bubblewrap's)
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)
    if os.getresuid() != (uid, uid, uid) or os.getresgid() != (uid, uid, uid):
        raise OSError("the worker could not drop root")
    return True
