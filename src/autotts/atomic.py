"""Atomic file writes that end with the mode an ordinary ``open()`` would give.

Everything autotts writes (results, replay stores, downloads) is written to a
temporary file beside its destination and renamed into place, so a reader never
sees half a file. ``tempfile.mkstemp`` creates that file with mode 0600 whatever
the umask, and the rename keeps the mode; the helpers here set the mode an
ordinary ``open(path, "w")`` would have produced (0644 under umask 022).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

__all__ = ["default_file_mode", "temp_file_beside", "write_atomic"]


def default_file_mode() -> int:
    """``0o666`` less the process umask: the mode ``open(path, "w")`` creates files with."""
    # The umask can only be read by setting it; setting it back at once is the usual idiom.
    mask = os.umask(0o022)
    os.umask(mask)
    return 0o666 & ~mask


def temp_file_beside(path: Path, suffix: str = ".tmp") -> tuple[int, Path]:
    """Create a hidden temporary file in ``path``'s folder; returns ``(fd, temp path)``.

    The file already has :func:`default_file_mode`, so renaming it onto ``path``
    leaves ``path`` with the mode a plain write would have given. The caller owns
    the descriptor and must remove the file if it does not rename it.
    """
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=suffix)
    try:
        os.fchmod(fd, default_file_mode())
    except BaseException:
        os.close(fd)
        Path(name).unlink(missing_ok=True)
        raise
    return fd, Path(name)


def write_atomic(path: Path, data: bytes, *, durable: bool = False) -> None:
    """Write ``data`` to ``path`` all at once or not at all (parents are created).

    With ``durable`` the bytes are flushed to disk before the rename, so a crash of
    the machine cannot leave an empty file under the final name.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = temp_file_beside(path)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            if durable:
                handle.flush()
                os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
