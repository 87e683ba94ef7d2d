"""A filesystem view built with namespaces, through ctypes: the fallback where neither
bubblewrap nor Landlock is available.

:func:`confine` moves this process into new mount, network and IPC namespaces (and a
user namespace when it is not root), builds a root of its own on an empty tmpfs with
read-only binds of the folders it is given, pivots into it and makes that root
read-only: no other file of the host exists any more, there is no ``/proc`` (so no
other process's ``environ``, ``cmdline`` or ``mem``), nothing can be written, and the
network namespace has no interface but a downed loopback. Unlike bubblewrap there is no
PID namespace (it needs a fork): signals to other processes are the seccomp
allowlist's to stop.

Runs on Python 3.9 (Debian's PyPy starts the worker too), standard library only.
"""

from __future__ import annotations

import ctypes
import os
import platform

__all__ = ["confine"]

_CLONE_NEWNS, _CLONE_NEWIPC = 0x00020000, 0x08000000
_CLONE_NEWUSER, _CLONE_NEWNET = 0x10000000, 0x40000000
_MS_RDONLY, _MS_NOSUID, _MS_NODEV, _MS_NOEXEC = 1, 2, 4, 8
_MS_REMOUNT, _MS_BIND, _MS_REC, _MS_PRIVATE = 32, 4096, 16384, 1 << 18
_MNT_DETACH = 2
_ST_NOSUID, _ST_NODEV, _ST_NOEXEC = 2, 4, 8
_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41}
_O_PATH = getattr(os, "O_PATH", 0o10000000)  # PyPy 3.9's os lacks it


def _check(result: int, what: str) -> None:
    if result != 0:
        code = ctypes.get_errno()
        raise OSError(code, f"{what}: {os.strerror(code)}")


def confine(readable: list[str], scratch: str = "/tmp") -> None:
    """Confine this process for good to reading ``readable`` (folders or files).

    ``scratch`` is any existing folder: the new root's tmpfs is mounted on it (in this
    process's own mount namespace only). Raises ``OSError`` where the kernel refuses.
    """
    number = _PIVOT_ROOT.get(platform.machine())
    if number is None:
        raise OSError(f"no pivot_root number known for {platform.machine()}")
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mount.argtypes = [ctypes.c_char_p] * 3 + [ctypes.c_ulong, ctypes.c_void_p]
    uid, gid = os.geteuid(), os.getegid()
    flags = _CLONE_NEWNS | _CLONE_NEWNET | _CLONE_NEWIPC
    if uid != 0:
        flags |= _CLONE_NEWUSER
    _check(libc.unshare(flags), "unshare")
    if uid != 0:  # map only this user onto itself: no other id exists in here
        with open("/proc/self/setgroups", "w") as handle:
            handle.write("deny")
        with open("/proc/self/uid_map", "w") as handle:
            handle.write(f"{uid} {uid} 1")
        with open("/proc/self/gid_map", "w") as handle:
            handle.write(f"{gid} {gid} 1")
    _check(libc.mount(None, b"/", None, _MS_REC | _MS_PRIVATE, None), "mount --make-rprivate /")
    # Every source is opened before anything is mounted over it (a venv under /tmp, say),
    # and bound later through /proc/self/fd; in the new namespace (a bind's source must
    # be one of its own mounts).
    sources: list[tuple[str, int | None, str | None]] = []
    for path in dict.fromkeys(os.path.abspath(p) for p in readable):
        if os.path.islink(path) and os.path.dirname(path) == "/":  # /bin -> usr/bin
            sources.append((path, None, os.readlink(path)))
            continue
        try:
            sources.append((path, os.open(path, _O_PATH | os.O_CLOEXEC), None))
        except OSError:  # not on this machine: nothing to bind
            continue
    root = scratch.encode()
    _check(libc.mount(b"tmpfs", root, b"tmpfs", _MS_NOSUID | _MS_NODEV, b"mode=0755"), "tmpfs")
    for path, fd, link in sources:
        target = os.path.join(scratch, path.lstrip("/"))
        os.makedirs(os.path.dirname(target), exist_ok=True)
        if link is not None:
            os.symlink(link, target)
            continue
        assert fd is not None
        if os.path.isdir(f"/proc/self/fd/{fd}"):
            os.makedirs(target, exist_ok=True)
        else:
            open(target, "w").close()
        source = f"/proc/self/fd/{fd}".encode()
        _check(libc.mount(source, target.encode(), None, _MS_BIND | _MS_REC, None), f"bind {path}")
        # Read-only; the source mount's nosuid/nodev/noexec are kept (a user namespace may
        # not clear them).
        kept = os.fstatvfs(fd).f_flag
        extra = (
            (_MS_NOSUID if kept & _ST_NOSUID else 0)
            | (_MS_NODEV if kept & _ST_NODEV else 0)
            | (_MS_NOEXEC if kept & _ST_NOEXEC else 0)
        )
        remount = _MS_REMOUNT | _MS_BIND | _MS_RDONLY | _MS_NOSUID | extra
        _check(libc.mount(None, target.encode(), None, remount, None), f"read-only {path}")
        os.close(fd)
    os.chdir(scratch)
    libc.syscall.restype = ctypes.c_long
    _check(libc.syscall(ctypes.c_long(number), b".", b"."), "pivot_root")
    _check(libc.umount2(b".", _MNT_DETACH), "detach the old root")
    os.chdir("/")
    remount_root = _MS_REMOUNT | _MS_BIND | _MS_RDONLY | _MS_NOSUID | _MS_NODEV
    _check(libc.mount(None, b"/", None, remount_root, None), "read-only root")
