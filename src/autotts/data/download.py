"""Fetch the public replay files and verify them against the packaged checksums.

Every file is streamed to a temporary file in its destination folder, hashed on
the way, flushed to disk and only then renamed into place, so the store never
holds a partial or unverified file: an error, a checksum mismatch or Ctrl-C
removes the temporary file and leaves any earlier version untouched. Files that
are already present with the right checksum are not fetched again.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import httpx

from autotts.atomic import temp_file_beside
from autotts.data.catalog import BENCHMARKS, MODELS, PUBLIC_URL_TEMPLATE, public_checksums
from autotts.errors import ChecksumMismatch, DownloadError, UnknownName, UsageError
from autotts.version import __version__

__all__ = [
    "DownloadResult",
    "ProgressCallback",
    "download_public",
    "file_sha256",
    "public_url",
]

#: ``progress(name, bytes_done, bytes_total)``: called with 0 when a fetch starts and
#: after every chunk; ``bytes_total`` is None when the server sends no length.
ProgressCallback = Callable[[str, int, int | None], None]

Status = Literal["downloaded", "present"]

#: Connect/read/write timeouts in seconds; a stalled transfer fails after ``read``.
DEFAULT_TIMEOUT = httpx.Timeout(60.0, connect=15.0)
#: The public files are a few MB; anything beyond this is not a replay file.
MAX_BYTES = 1 << 30
_CHUNK = 1 << 16


@dataclass(frozen=True)
class DownloadResult:
    """What happened to one file."""

    name: str  # "<model>/<benchmark>.json"
    path: Path
    url: str
    status: Status  # "downloaded" or "present" (already there, checksum valid)
    size: int
    sha256: str


def public_url(model: str, benchmark: str, url_template: str = PUBLIC_URL_TEMPLATE) -> str:
    """The URL of one file: ``url_template`` with ``{model}`` and ``{benchmark}`` filled in."""
    try:
        return url_template.format(model=model, benchmark=benchmark)
    except (KeyError, IndexError, ValueError) as exc:
        raise UsageError(
            f"bad URL template {url_template!r}: use {{model}} and {{benchmark}} "
            f"placeholders only ({type(exc).__name__}: {exc})"
        ) from None


def file_sha256(path: Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def download_public(
    dest: Path,
    models: Sequence[str] = MODELS,
    benchmarks: Sequence[str] = BENCHMARKS,
    *,
    url_template: str = PUBLIC_URL_TEMPLATE,
    progress: ProgressCallback | None = None,
    client: httpx.Client | None = None,
    on_file: Callable[[DownloadResult], None] | None = None,
    timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
) -> list[DownloadResult]:
    """Fetch ``<model>/<benchmark>.json`` for every pair into ``dest``; verify each.

    Files already in ``dest`` with the expected SHA-256 are kept (status
    ``"present"``); a present file with a wrong checksum is fetched again.
    ``on_file`` is called with each result as soon as that file is done, so a
    caller can report progress even if a later file fails.

    Raises :class:`UnknownName` for a model or benchmark that is not public,
    :class:`DownloadError` (one line, naming the URL) when a file cannot be
    fetched, and :class:`ChecksumMismatch` when its bytes are not the published
    ones. Files completed before the error stay in place.
    """
    models = _checked("model", models, MODELS)
    benchmarks = _checked("benchmark", benchmarks, BENCHMARKS)
    checksums = public_checksums()
    jobs = [(m, b, public_url(m, b, url_template)) for m in models for b in benchmarks]
    dest = Path(dest).expanduser()

    own_client = client is None
    if client is None:
        client = httpx.Client(
            follow_redirects=True,
            timeout=timeout,
            headers={"User-Agent": f"autotts/{__version__}"},
        )
    results: list[DownloadResult] = []
    # Folders this call creates; a failure removes those left empty, so an aborted
    # download leaves the store as it found it (files that arrived stay).
    made = [d for d in (dest, *(dest / m for m in models)) if not d.exists()]
    try:
        for model, benchmark, url in jobs:
            name = f"{model}/{benchmark}.json"
            expected = checksums[name]
            target = dest / model / f"{benchmark}.json"
            if target.is_file() and file_sha256(target) == expected:
                result = DownloadResult(
                    name, target, url, "present", target.stat().st_size, expected
                )
            else:
                size = _fetch(client, url, target, expected, name, progress, timeout)
                result = DownloadResult(name, target, url, "downloaded", size, expected)
            results.append(result)
            if on_file is not None:
                on_file(result)
    except BaseException:
        for folder in reversed(made):
            _remove_if_empty(folder)
        raise
    finally:
        if own_client:
            client.close()
    return results


def _checked(kind: str, names: Sequence[str], known: Sequence[str]) -> list[str]:
    if isinstance(names, str):  # a lone name, not a sequence of characters
        names = [names]
    chosen: list[str] = []
    for name in names:
        if name not in known:
            raise UnknownName(f"public {kind}", name, known)
        if name not in chosen:
            chosen.append(name)
    return chosen


def _fetch(
    client: httpx.Client,
    url: str,
    target: Path,
    expected: str,
    name: str,
    progress: ProgressCallback | None,
    timeout: httpx.Timeout | float,
) -> int:
    """Stream ``url`` into ``target`` atomically; returns the number of bytes."""
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = temp_file_beside(target, suffix=".part")
    except OSError as exc:
        raise DownloadError(f"cannot write to {target.parent}: {exc.strerror or exc}") from None
    try:
        digest = hashlib.sha256()
        done = 0
        with os.fdopen(fd, "wb") as handle:
            try:
                with client.stream("GET", url, follow_redirects=True, timeout=timeout) as response:
                    if response.status_code != 200:
                        reason = response.reason_phrase or ""
                        raise DownloadError(
                            f"cannot fetch {url}: HTTP {response.status_code} {reason}".rstrip()
                        )
                    total = _content_length(response)
                    if progress is not None:
                        progress(name, 0, total)
                    for chunk in response.iter_bytes(_CHUNK):
                        done += len(chunk)
                        if done > MAX_BYTES:
                            raise DownloadError(
                                f"cannot fetch {url}: more than {MAX_BYTES:,} bytes, "
                                "not a replay file"
                            )
                        handle.write(chunk)
                        digest.update(chunk)
                        if progress is not None:
                            progress(name, done, total)
            except httpx.TimeoutException as exc:
                raise DownloadError(
                    f"cannot fetch {url}: timed out ({_describe(exc)}){_offline_hint(target)}"
                ) from None
            except httpx.TransportError as exc:  # no network, refused, dropped
                raise DownloadError(
                    f"cannot fetch {url}: {_describe(exc)}{_offline_hint(target)}"
                ) from None
            except (httpx.HTTPError, httpx.InvalidURL) as exc:
                raise DownloadError(f"cannot fetch {url}: {_describe(exc)}") from None
            handle.flush()
            os.fsync(handle.fileno())
        actual = digest.hexdigest()
        if actual != expected:
            raise ChecksumMismatch(
                f"{url}: SHA-256 {actual} is not the published {expected} for {name} "
                f"({done:,} bytes received); the file was not saved"
            )
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(target.parent)
    return done


def _offline_hint(target: Path) -> str:
    """Where the files can come from when this machine cannot fetch them."""
    store = target.parent.parent
    return (
        f". Without network access, copy the replay files in by hand: from the AutoTTS "
        f"repository's efficient_reasoning_controller/test_environment/ folder (or any copy "
        f"of it, such as a shared/data/replay folder) into {store}, laid out as "
        f"<model>/<benchmark>.json"
    )


def _content_length(response: httpx.Response) -> int | None:
    value = response.headers.get("content-length")
    if value is None or response.headers.get("content-encoding"):
        return None  # a compressed body's length is not the number of bytes we write
    try:
        return int(value)
    except ValueError:
        return None


def _describe(exc: Exception) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _remove_if_empty(folder: Path) -> None:
    with contextlib.suppress(OSError):  # not empty, or gone already
        folder.rmdir()


def _fsync_dir(folder: Path) -> None:
    """Make the rename durable; not every platform can open a directory."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
