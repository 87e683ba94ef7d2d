"""Landlock, through ctypes: the worker's filesystem view, with no extra binary.

Landlock (Linux 5.13+) lets an unprivileged process restrict itself, for good: once
:func:`restrict` has run, this process and every thread reads only below the folders
it was given, writes, creates, removes and renames nothing anywhere, and (where the
kernel's ABI offers it) cannot bind or connect TCP sockets, connect to abstract unix
sockets of processes outside its domain, or signal them. ``/proc`` is not on the list,
so another process's ``environ``, ``cmdline`` or ``mem`` cannot even be opened; a
Landlock domain also cannot trace (hence read the memory of) a process outside it.

Runs on Python 3.9 (Debian's PyPy starts the worker too), standard library only.
"""

from __future__ import annotations

import ctypes
import os
import platform

__all__ = ["abi_version", "restrict"]

# Syscall numbers are the same on every architecture (they were added after the
# generic table was unified).
_CREATE_RULESET, _ADD_RULE, _RESTRICT_SELF = 444, 445, 446
_CREATE_RULESET_VERSION = 1
_RULE_PATH_BENEATH = 1
#: PyPy 3.9's os module lacks the constant (the value is the generic Linux one).
_O_PATH = getattr(os, "O_PATH", 0o10000000)

# Filesystem access rights, by the ABI version that introduced them.
_FS_EXECUTE = 1 << 0
_FS_WRITE_FILE = 1 << 1
_FS_READ_FILE = 1 << 2
_FS_READ_DIR = 1 << 3
_FS_ABI1 = (1 << 13) - 1  # execute … make_sym: every right of ABI 1
_FS_REFER = 1 << 13  # ABI 2: link or rename across folders
_FS_TRUNCATE = 1 << 14  # ABI 3
_FS_IOCTL_DEV = 1 << 15  # ABI 5
_NET_ALL = (1 << 0) | (1 << 1)  # ABI 4: bind_tcp, connect_tcp
_SCOPE_ALL = (1 << 0) | (1 << 1)  # ABI 6: abstract unix sockets, signals

#: What the rules grant below each readable folder: reading files and listing folders,
#: and mapping libraries executable (the interpreter loads extension modules lazily).
_READ = _FS_EXECUTE | _FS_READ_FILE | _FS_READ_DIR


class _RulesetAttr(ctypes.Structure):
    _fields_ = [
        ("handled_access_fs", ctypes.c_uint64),
        ("handled_access_net", ctypes.c_uint64),
        ("scoped", ctypes.c_uint64),
    ]


class _PathBeneathAttr(ctypes.Structure):
    _pack_ = 1  # the kernel's struct is packed: 12 bytes
    _fields_ = [
        ("allowed_access", ctypes.c_uint64),
        ("parent_fd", ctypes.c_int32),
    ]


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def abi_version() -> int:
    """The kernel's Landlock ABI version; 0 where Landlock is missing or disabled."""
    if platform.system() != "Linux":
        return 0
    libc = _libc()
    libc.syscall.restype = ctypes.c_long
    version = libc.syscall(
        ctypes.c_long(_CREATE_RULESET),
        None,
        ctypes.c_size_t(0),
        ctypes.c_uint32(_CREATE_RULESET_VERSION),
    )
    return max(0, int(version))


def restrict(readable: list[str]) -> list[str]:
    """Restrict this process for good to reading below ``readable`` (folders or files).

    Needs ``no_new_privs`` set first (:mod:`autotts.sandbox.privileges`). Returns what
    the ruleset covers, for the worker's report (``["files"]``, plus ``"tcp"`` and
    ``"scope"`` where the ABI has them). Raises ``OSError`` where the kernel refuses.
    Paths that do not exist are skipped.
    """
    abi = abi_version()
    if abi < 1:
        raise OSError("Landlock is not available in this kernel")
    fs = _FS_ABI1
    if abi >= 2:
        fs |= _FS_REFER
    if abi >= 3:
        fs |= _FS_TRUNCATE
    if abi >= 5:
        fs |= _FS_IOCTL_DEV
    covered = ["files"]
    net = 0
    if abi >= 4:
        net = _NET_ALL
        covered.append("tcp")
    scoped = 0
    if abi >= 6:
        scoped = _SCOPE_ALL
        covered.append("scope")
    attr = _RulesetAttr(fs, net, scoped)
    # Older kernels reject a struct longer than they know: pass only the fields this
    # ABI has (the struct grew by one u64 per new kind of right).
    size = ctypes.sizeof(ctypes.c_uint64) * (3 if abi >= 6 else 2 if abi >= 4 else 1)
    libc = _libc()
    libc.syscall.restype = ctypes.c_long
    ruleset = libc.syscall(
        ctypes.c_long(_CREATE_RULESET), ctypes.byref(attr), ctypes.c_size_t(size), 0
    )
    if ruleset < 0:
        raise _error("landlock_create_ruleset")
    try:
        for path in readable:
            try:
                fd = os.open(path, _O_PATH | os.O_CLOEXEC)
            except OSError:  # not on this machine: nothing to grant
                continue
            try:
                # A file (not a folder) takes file rights only: the kernel refuses folder
                # rights on it.
                access = _READ if os.path.isdir(path) else _FS_EXECUTE | _FS_READ_FILE
                rule = _PathBeneathAttr(access, fd)
                done = libc.syscall(
                    ctypes.c_long(_ADD_RULE),
                    ctypes.c_int(ruleset),
                    ctypes.c_int(_RULE_PATH_BENEATH),
                    ctypes.byref(rule),
                    ctypes.c_uint32(0),
                )
                if done < 0:
                    raise _error(f"landlock_add_rule({path})")
            finally:
                os.close(fd)
        if libc.syscall(ctypes.c_long(_RESTRICT_SELF), ctypes.c_int(ruleset), 0) < 0:
            raise _error("landlock_restrict_self")
    finally:
        os.close(ruleset)
    return covered


def _error(call: str) -> OSError:
    code = ctypes.get_errno()
    return OSError(code, f"{call}: {os.strerror(code)}")
