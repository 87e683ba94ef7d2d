"""Which isolation layers this machine offers, and the command that starts a worker.

Layers, strongest first (each is used when available; a missing one is reported
once per command as a warning; every sandboxed result's ``sandbox.layers`` lists those
the worker reported it actually installed). docs/sandbox.md says what each one stops.

* ``bubblewrap`` — the worker sees only the interpreter, the installed packages and
  the autotts package, all read-only, plus an empty scratch ``/tmp``; no network,
  no other processes (own PID namespace), all capabilities dropped (holds for root);
* ``landlock`` — the worker restricts itself, with no extra binary, to reading the
  same folders (no writes anywhere, no ``/proc``), and where the kernel's ABI has
  them, to no TCP bind/connect and no signals or abstract sockets outside itself
  (:mod:`autotts.sandbox.landlock`);
* ``namespaces`` — only where bubblewrap and Landlock are both missing: the worker
  builds itself a private read-only root of the same folders with mount namespaces
  (:mod:`autotts.sandbox.namespaces`);
* ``unprivileged`` — no capabilities: a root worker becomes ``nobody`` where it can
  (:mod:`autotts.sandbox.privileges`); ``no-new-privs`` is set in every worker;
* ``seccomp`` — an allowlist of system calls (:mod:`autotts.sandbox.seccomp_filter`):
  anything else, process creation, sockets, writes, ``io_uring``, signals to others,
  kills the worker;
* ``rlimits`` — CPU seconds, address space, file size, no core dumps (always on);
* the parent's wall-clock timer kills the worker's whole process group (always on).

A worker needs at least one layer that keeps it from reading the host's files
(bubblewrap, Landlock or namespaces): :func:`isolation_layers` refuses to start one
otherwise.

The worker's interpreter is this CPython, or PyPy (``SandboxLimits.interpreter``,
:mod:`autotts.sandbox.pypy_boot`) under the same layers: Debian's PyPy lives in
``/usr``, which bubblewrap binds read-only anyway, and the seccomp filter is the
same ``pyseccomp`` file, loaded by path.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

from autotts.errors import AutoTTSError
from autotts.sandbox.interpreter import INTERPRETERS, JIT_OPTIONS, PYPY_GC_NURSERY, pypy_path
from autotts.sandbox.landlock import abi_version

__all__ = [
    "IsolationUnavailable",
    "SandboxLimits",
    "available_layers",
    "describe_layers",
    "held_layers",
    "isolation_layers",
    "worker_command",
    "worker_environment",
]


@dataclass(frozen=True)
class SandboxLimits:
    """Hard limits of one candidate's worker process.

    ``episode_seconds`` bounds the wall-clock time between two episode results
    (and the time to load); ``total_seconds`` and ``cpu_seconds`` bound a whole
    worker's life; ``memory_mb`` is its address space (``RLIMIT_AS``).
    """

    episode_seconds: float = 20.0
    total_seconds: float = 900.0
    cpu_seconds: int = 900
    memory_mb: int = 2048
    #: longest answer string accepted from a controller
    max_answer_chars: int = 1000
    #: largest single message (one episode's result, traces included) accepted
    max_message_bytes: int = 8_000_000
    #: turn isolation layers off (tests of the degraded mode); never loosens rlimits
    use_bubblewrap: bool = True
    use_seccomp: bool = True
    use_landlock: bool = True
    #: the namespaces fallback, used only where neither bubblewrap nor Landlock is
    use_namespaces: bool = True
    #: the worker's interpreter: ``"cpython"`` (this one) or ``"pypy"`` (``pypy3`` on PATH,
    #: for untraced cells; see :mod:`autotts.sandbox.pypy_boot`)
    interpreter: str = "cpython"


@functools.lru_cache(maxsize=1)
def _bwrap_path() -> str | None:
    return shutil.which("bwrap")


@functools.lru_cache(maxsize=1)
def _bwrap_works() -> bool:
    """Whether bubblewrap can start the interpreter with the worker's bind set (once)."""
    return _starts_cleanly([*_bwrap_argv(), sys.executable, "-c", "pass"])


def _starts_cleanly(argv: list[str], cwd: str | None = None) -> bool:
    """Whether ``argv`` runs to exit status 0 within 30 s in the worker's environment: how
    a layer is tried once before a worker relies on it (one that cannot start is off)."""
    try:
        done = subprocess.run(
            argv,
            env=worker_environment(),
            cwd=cwd,
            capture_output=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


@functools.lru_cache(maxsize=1)
def _seccomp_available() -> bool:
    if not sys.platform.startswith("linux"):
        return False
    try:
        # an optional dependency (the sandbox extra), probed here
        import pyseccomp  # noqa: F401
    except (ImportError, OSError):  # the package, or libseccomp itself, is missing
        return False
    return True


class IsolationUnavailable(AutoTTSError):
    """No layer here can keep an untrusted controller from reading the host's files."""


#: Worker-side layers: installed by the worker on itself, listed only once it reports them.
WORKER_LAYERS = ("namespaces", "landlock", "unprivileged", "no-new-privs", "seccomp")


def available_layers(limits: SandboxLimits) -> list[str]:
    """The layers a worker started with ``limits`` gets here, strongest first; warns once
    per command per missing layer (:func:`_warn_once`)."""
    layers = ["rlimits", "process-group-timer"]
    for name, on in (
        ("bubblewrap", limits.use_bubblewrap),
        ("landlock", limits.use_landlock),
        ("seccomp", limits.use_seccomp),
    ):
        if not on:
            # Not deduplicated: a caller chose this (tests of the degraded mode).
            warnings.warn(
                f"the sandbox layer {name} is turned off: controllers run less isolated",
                RuntimeWarning,
                stacklevel=2,
            )
    worker_side = []
    if limits.use_landlock and _landlock_abi() > 0:
        worker_side.append("landlock")
    if _linux():
        worker_side += ["unprivileged", "no-new-privs"]
    if limits.use_seccomp:
        if _seccomp_available():
            worker_side.append("seccomp")
        else:
            _warn_once(
                "seccomp is unavailable (PyPI pyseccomp + libseccomp2): sandboxed controllers "
                "are not limited to an allowlist of system calls"
            )
    bubblewrap = limits.use_bubblewrap and _bwrap_path() is not None and _bwrap_works()
    if (
        not bubblewrap
        and "landlock" not in worker_side
        and limits.use_namespaces
        and _namespaces_work()
    ):
        worker_side.insert(0, "namespaces")
    layers[:0] = worker_side
    if limits.use_bubblewrap:
        if bubblewrap:
            layers.insert(0, "bubblewrap")
        elif _bwrap_path() is not None:
            _warn_once(
                "bubblewrap (bwrap) is installed but cannot create a sandbox here (no user "
                "namespaces?): sandboxed controllers run without its layer"
                + (" (Landlock still confines their reads)" if "landlock" in layers else "")
            )
        else:
            _warn_once(
                "bubblewrap (bwrap) is not installed: sandboxed controllers run without its "
                "layer"
                + (" (Landlock still confines their reads)" if "landlock" in layers else "")
                + "; install it with 'apt-get install -y --no-install-recommends bubblewrap'"
            )
    return layers


def isolation_layers(limits: SandboxLimits) -> list[str]:
    """:func:`available_layers`, or :class:`IsolationUnavailable` where none of them keeps
    a worker from reading the host's files (no bubblewrap, no Landlock): untrusted code
    is then refused rather than run less isolated than the user was told."""
    layers = available_layers(limits)
    if not {"bubblewrap", "landlock", "namespaces"} & set(layers):
        raise IsolationUnavailable(
            "cannot sandbox an untrusted controller here: no layer can keep it from "
            "reading this machine's files (bubblewrap is missing or cannot start, the "
            "kernel has no Landlock, and no mount namespace can be made). Install "
            "bubblewrap ('apt-get install -y --no-install-recommends bubblewrap') or run "
            "a Linux kernel with Landlock (5.13+, 'landlock' in its LSM list), or pass "
            "--trust (where the command has it) to run the file in-process as your own code"
        )
    return layers


#: What each layer stops, one line each (``autotts check``; docs/sandbox.md says more).
LAYER_EFFECTS = {
    "bubblewrap": "sees only the interpreter and packages, read-only; no network, no other "
    "processes",
    "landlock": "reads only those folders, writes nowhere; no TCP, no signals or abstract "
    "sockets outside itself",
    "namespaces": "sees only those folders, read-only; no /proc, no network",
    "unprivileged": "no capabilities (a root worker becomes nobody where it can)",
    "no-new-privs": "can never gain privileges",
    "seccomp": "system-call allowlist: process creation, sockets, writes, io_uring, signals "
    "to others kill it",
    "rlimits": "CPU time, memory, file size, no core dumps",
    "process-group-timer": "wall-clock limit; its whole process group is killed",
}

#: How to get a layer that is missing.
_FIXES = {
    "bubblewrap": "apt-get install -y --no-install-recommends bubblewrap",
    "landlock": "a Linux kernel with Landlock (5.13+, 'landlock' in its LSM list)",
    "seccomp": "pip install pyseccomp, with libseccomp2 installed",
}


def describe_layers(layers: list[str]) -> list[str]:
    """Lines saying which layers held and what each stops, then which are not active."""
    width = max(map(len, LAYER_EFFECTS))
    lines = [f"{n:<{width}}  {LAYER_EFFECTS.get(n, '')}".rstrip() for n in layers]
    for name, fix in _FIXES.items():
        if name not in layers:
            lines.append(f"{'not active: ' + name:<{width}}  (to add it: {fix})")
    return lines


def held_layers(expected: list[str], reported: object) -> list[str]:
    """``expected`` without the worker-side layers the worker did not report installing."""
    held = set(reported) if isinstance(reported, list) else set()
    return [n for n in expected if n not in WORKER_LAYERS or n in held]


#: Messages already shown by :func:`_warn_once` in this process.
_WARNED: set[str] = set()
#: Sockets held for the process's life, one per message shown: see :func:`_claim`.
_CLAIMS: list[socket.socket] = []


def _warn_once(message: str) -> None:
    # Once per command, not once per call site or process: a command starts workers from
    # several places and pool processes, and one missing layer is one line for the user.
    if message in _WARNED:
        return
    _WARNED.add(message)
    if _claim(message):
        warnings.warn(message, RuntimeWarning, stacklevel=3)


def _claim(message: str) -> bool:
    """Whether this process is the first of its command (its process group) to show
    ``message``: it binds an abstract unix socket named after the group and the message,
    which its sibling pool processes then fail to bind. Nothing is left behind: the name
    goes with the last process holding it. Where that cannot be done, every process shows
    it once."""
    try:
        group = os.getpgrp()
        with open(f"/proc/{group}/stat", "rb") as stat:  # pids recycle; start times differ
            started = stat.read().rsplit(b")", 1)[1].split()[19].decode()
        digest = hashlib.sha256(message.encode()).hexdigest()[:16]
        claim = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    except (OSError, IndexError, AttributeError):
        return True
    try:
        claim.bind(f"\0autotts-warned-{group}-{started}-{digest}")
    except OSError:  # a sibling holds it: it has shown the message
        claim.close()
        return False
    _CLAIMS.append(claim)
    return True


def _linux() -> bool:
    return sys.platform.startswith("linux")


@functools.lru_cache(maxsize=1)
def _landlock_abi() -> int:
    if not _linux():
        return 0
    try:
        return abi_version()
    except (OSError, AttributeError):  # no libc syscall(): no Landlock either
        return 0


@functools.lru_cache(maxsize=1)
def _namespaces_work() -> bool:
    """Whether a process can confine itself with namespaces here (:mod:`autotts.sandbox.
    namespaces`), tried once in a child; only asked where bubblewrap and Landlock are
    both missing."""
    if not _linux():
        return False
    probe = (
        "import os, sys\n"
        "from autotts.sandbox.namespaces import confine\n"
        "confine(sys.argv[1:])\n"
        "assert not os.path.exists('/proc/self') and os.path.exists(sys.prefix)\n"
    )
    argv = [sys.executable, "-c", probe, *map(str, _readable_paths())]
    return _starts_cleanly(argv, cwd=tempfile.gettempdir())


def _readable_paths() -> list[Path]:
    """What a worker reads after start-up: Landlock's allowlist (bubblewrap binds the
    same folders, read-only)."""
    paths = [*_python_roots(), Path("/usr"), *_SYSTEM_READS]
    pypy = pypy_path()
    if pypy is not None:
        paths.append(Path(os.path.realpath(pypy)).parent.parent)
    return list(dict.fromkeys(paths))  # once each (a Debian Python's prefix is /usr)


#: Outside the interpreter's folders: libraries, the loader's cache, the time zone,
#: the two devices a Python process opens.
_SYSTEM_READS = tuple(
    Path(p)
    for p in (
        "/lib",
        "/lib64",
        "/lib32",
        "/bin",
        "/etc/ld.so.cache",
        "/etc/localtime",
        "/dev/null",
        "/dev/urandom",
        "/sys/devices/system/cpu",  # how many CPUs (os.cpu_count, BLAS)
    )
)


@functools.lru_cache(maxsize=4)
def _readable_by_anyone(paths: tuple[Path, ...]) -> bool:
    """Whether every existing path is readable by any user (and its folders searchable):
    only then can a root worker become ``nobody`` and still import what it needs."""
    for path in paths:
        if not path.exists():
            continue
        try:
            mode = path.stat().st_mode
            if mode & 0o004 == 0 or (path.is_dir() and mode & 0o001 == 0):
                return False
            if any(parent.stat().st_mode & 0o001 == 0 for parent in path.resolve().parents):
                return False
        except OSError:
            return False
    return True


def worker_environment() -> dict[str, str]:
    """The worker's whole environment: nothing inherited, so no secrets leak in.

    ``PYTHONHASHSEED`` is fixed so that set iteration order (hence any result) does
    not vary between runs; one BLAS thread keeps the process count fixed; a PyPy
    worker gets its nursery size (:data:`PYPY_GC_NURSERY`).
    """
    nursery = {"PYPY_GC_NURSERY": PYPY_GC_NURSERY} if PYPY_GC_NURSERY else {}
    return {
        **nursery,
        "PATH": "/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "HOME": "/tmp",
        "TMPDIR": "/tmp",
        "PYTHONHASHSEED": "0",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONNOUSERSITE": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
    }


def _python_roots() -> list[Path]:
    """Folders the interpreter needs: its installation, the venv, the autotts package."""
    roots = {Path(sys.base_prefix).resolve(), Path(sys.prefix).resolve()}
    # A venv's python is a symlink into the base installation; bind what it points at.
    roots.add(Path(os.path.realpath(sys.executable)).parent.parent)
    roots.add(Path(__file__).resolve().parent.parent)  # autotts/, this file being in sandbox/
    # Packages installed outside the venv's prefix (e.g. editable installs of numpy).
    for entry in sys.path:
        path = Path(entry)
        if entry and path.is_dir() and path.name in {"site-packages", "dist-packages"}:
            roots.add(path.resolve())
    # Drop folders nested inside another bound folder.
    ordered = sorted(roots, key=lambda p: len(p.parts))
    kept: list[Path] = []
    for path in ordered:
        if not any(path.is_relative_to(k) for k in kept):
            kept.append(path)
    return kept


def worker_command(limits: SandboxLimits, tag: str) -> list[str]:
    """argv that starts a worker (inside bubblewrap when that layer is on)."""
    if limits.interpreter not in INTERPRETERS:
        raise ValueError(f"unknown worker interpreter {limits.interpreter!r}")
    if limits.interpreter == "pypy":
        python = _pypy_command(pypy_path())
    else:
        python = [
            sys.executable,
            "-s",  # no user site-packages
            "-B",  # never write bytecode
            "-P",  # do not put the working folder on sys.path
            # Not -m autotts.sandbox.worker: the boot script skips the packages' __init__
            # modules (NumPy, SciPy, most of autotts), a fresh worker's largest cost.
            str(Path(__file__).with_name("pypy_boot.py")),
        ]
    # The worker sets its own rlimits from these before it reads a request (see
    # autotts.sandbox.worker.apply_limits), so before any candidate code runs.
    python += ["--tag", tag, "--limits", f"{limits.cpu_seconds},{limits.memory_mb}"]
    layers = available_layers(limits)
    # The layers the worker installs on itself, first thing (worker.main); it fails
    # closed: a requested layer it cannot install stops it before it serves.
    wanted = [n for n in layers if n in WORKER_LAYERS]
    if (
        "unprivileged" in wanted
        and os.geteuid() == 0
        and _readable_by_anyone(tuple(_readable_paths()))
    ):
        wanted.append("setuid")  # root becomes nobody, who can still import what it needs
    python += ["--isolate", ",".join(wanted)]
    if "landlock" in wanted or "namespaces" in wanted:
        for path in _readable_paths():
            python += ["--read", str(path)]
    if "bubblewrap" not in layers:
        return python
    return [*_bwrap_argv(), *python]


def _pypy_command(pypy: str | None) -> list[str]:
    """PyPy running :mod:`autotts.sandbox.pypy_boot` (its folder is dropped from the path
    there: PyPy 3.9 has no ``-P``), given this environment's pyseccomp file."""
    if pypy is None:
        raise FileNotFoundError(
            "a PyPy worker needs pypy3 on PATH (Debian: apt-get install -y pypy3)"
        )
    boot = Path(__file__).with_name("pypy_boot.py")
    command = [pypy, *(["--jit", JIT_OPTIONS] if JIT_OPTIONS else []), "-s", "-B", str(boot)]
    spec = importlib.util.find_spec("pyseccomp")
    if spec is not None and spec.origin:
        command += ["--seccomp", spec.origin]
    return command


def _bwrap_argv() -> list[str]:
    """bubblewrap's options, up to and including the ``--`` before the command."""
    bwrap = _bwrap_path()
    assert bwrap is not None
    argv = [bwrap, "--die-with-parent", "--new-session", "--unshare-all", "--cap-drop", "ALL"]
    argv += ["--clearenv"]
    for key, value in worker_environment().items():
        argv += ["--setenv", key, value]
    # Scratch first: a later bind may live under /tmp (a venv or checkout there) and must
    # be mounted on top of the tmpfs, not hidden by it.
    argv += ["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"]
    argv += ["--ro-bind", "/usr", "/usr"]
    # The dynamic loader's cache: ctypes (hence the seccomp binding) looks libraries up in it.
    argv += ["--ro-bind-try", "/etc/ld.so.cache", "/etc/ld.so.cache"]
    for link in ("bin", "lib", "lib64", "sbin"):
        target = Path("/") / link
        if target.is_symlink():
            argv += ["--symlink", os.readlink(target), str(target)]
        elif target.is_dir():
            argv += ["--ro-bind", str(target), str(target)]
    for root in _python_roots():
        if not root.is_relative_to("/usr"):
            argv += ["--ro-bind", str(root), str(root)]
    pypy = pypy_path()
    if pypy is not None:  # a PyPy installed outside /usr: its whole prefix
        prefix = Path(os.path.realpath(pypy)).parent.parent
        if not prefix.is_relative_to("/usr") and prefix != Path("/"):
            argv += ["--ro-bind", str(prefix), str(prefix)]
    argv += ["--chdir", "/tmp"]
    return [*argv, "--"]
