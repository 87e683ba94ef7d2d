"""`download_public` and `autotts data download` against a real local HTTP server.

The server serves ``../shared/data/replay`` under a mode prefix that decides how
it misbehaves: ``/ok/`` serves the files, ``/bad/`` alters one byte, ``/drop/``
closes the connection halfway through the body, ``/slow/`` stalls before the
body, ``/redirect/`` answers 302 to ``/ok/``; anything else is a 404.
"""

from __future__ import annotations

import os
import socket
import stat
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from autotts.cli.main import main
from autotts.data.download import download_public, file_sha256
from autotts.errors import ChecksumMismatch, DownloadError, UnknownName, UsageError

PAIR = (["Qwen3-4B"], ["aime24", "aime25"])
NAMES = ["Qwen3-4B/aime24.json", "Qwen3-4B/aime25.json"]


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    root: Path
    requests: list[str]

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # a client that gave up on /slow/ makes the handler's write fail; expected


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        self.server.requests.append(self.path)
        mode, _, rest = self.path.lstrip("/").partition("/")
        if mode == "redirect":
            self.send_response(302)
            self.send_header("Location", f"/ok/{rest}")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        file = self.server.root / rest
        if mode not in {"ok", "bad", "drop", "slow"} or not file.is_file():
            self.send_error(404, "Not Found")
            return
        body = file.read_bytes()
        if mode == "bad":
            body = body[:100] + bytes([body[100] ^ 1]) + body[101:]
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if mode == "slow":
            time.sleep(1.0)
        if mode == "drop":
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(body)


@dataclass
class Server:
    base: str
    requests: list[str] = field(default_factory=list)

    def template(self, mode: str = "ok") -> str:
        return f"{self.base}/{mode}/{{model}}/{{benchmark}}.json"


@pytest.fixture
def server(shared_replay_dir: Path) -> Iterator[Server]:
    httpd = _Server(("127.0.0.1", 0), _Handler)
    httpd.root = shared_replay_dir
    httpd.requests = []
    thread = threading.Thread(target=httpd.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield Server(f"http://127.0.0.1:{httpd.server_address[1]}", httpd.requests)
    finally:
        httpd.shutdown()
        httpd.server_close()


def _files(folder: Path) -> list[str]:
    """Every file below ``folder`` (temporary ones included), relative, sorted."""
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def test_download_verifies_and_writes_identical_files(
    server: Server, tmp_path: Path, shared_replay_dir: Path
) -> None:
    results = download_public(tmp_path, *PAIR, url_template=server.template())
    assert [r.name for r in results] == NAMES
    assert [r.status for r in results] == ["downloaded", "downloaded"]
    assert _files(tmp_path) == NAMES
    for result in results:
        original = shared_replay_dir / result.name
        assert result.path == tmp_path / result.name
        assert result.path.read_bytes() == original.read_bytes()
        assert result.size == original.stat().st_size
        assert result.sha256 == file_sha256(original)
        assert result.url == f"{server.base}/ok/{result.name}"


def test_second_run_skips_present_files(server: Server, tmp_path: Path) -> None:
    download_public(tmp_path, *PAIR, url_template=server.template())
    assert len(server.requests) == 2
    before = [(tmp_path / n).stat().st_mtime_ns for n in NAMES]
    results = download_public(tmp_path, *PAIR, url_template=server.template())
    assert [r.status for r in results] == ["present", "present"]
    assert len(server.requests) == 2  # nothing fetched
    assert [(tmp_path / n).stat().st_mtime_ns for n in NAMES] == before


def test_corrupted_present_file_is_fetched_again(
    server: Server, tmp_path: Path, shared_replay_dir: Path
) -> None:
    download_public(tmp_path, *PAIR, url_template=server.template())
    damaged = tmp_path / NAMES[1]
    damaged.write_bytes(damaged.read_bytes()[:-10])
    results = download_public(tmp_path, *PAIR, url_template=server.template())
    assert [r.status for r in results] == ["present", "downloaded"]
    assert damaged.read_bytes() == (shared_replay_dir / NAMES[1]).read_bytes()
    assert server.requests[-1] == f"/ok/{NAMES[1]}"


def test_wrong_bytes_raise_checksum_mismatch_and_leave_nothing(
    server: Server, tmp_path: Path
) -> None:
    with pytest.raises(ChecksumMismatch) as info:
        download_public(tmp_path, ["Qwen3-4B"], ["aime24"], url_template=server.template("bad"))
    message = str(info.value)
    assert f"{server.base}/bad/Qwen3-4B/aime24.json" in message
    assert "SHA-256" in message and "\n" not in message
    assert _files(tmp_path) == []


def test_failed_refetch_keeps_the_old_file(server: Server, tmp_path: Path) -> None:
    target = tmp_path / NAMES[0]
    target.parent.mkdir(parents=True)
    target.write_bytes(b"old")
    with pytest.raises(ChecksumMismatch):
        download_public(tmp_path, ["Qwen3-4B"], ["aime24"], url_template=server.template("bad"))
    assert _files(tmp_path) == [NAMES[0]]
    assert target.read_bytes() == b"old"


def test_http_404_raises_download_error(server: Server, tmp_path: Path) -> None:
    with pytest.raises(DownloadError) as info:
        download_public(tmp_path, ["Qwen3-4B"], ["aime24"], url_template=server.template("gone"))
    assert not isinstance(info.value, ChecksumMismatch)
    assert str(info.value) == (
        f"cannot fetch {server.base}/gone/Qwen3-4B/aime24.json: HTTP 404 Not Found"
    )
    assert _files(tmp_path) == []


def test_connection_dropped_mid_body_leaves_no_partial_file(server: Server, tmp_path: Path) -> None:
    with pytest.raises(DownloadError) as info:
        download_public(tmp_path, ["Qwen3-4B"], ["aime24"], url_template=server.template("drop"))
    message = str(info.value)
    assert message.startswith(f"cannot fetch {server.base}/drop/Qwen3-4B/aime24.json: ")
    assert "\n" not in message
    assert _files(tmp_path) == []


def test_stalled_transfer_times_out(server: Server, tmp_path: Path) -> None:
    with pytest.raises(DownloadError, match="timed out") as info:
        download_public(
            tmp_path,
            ["Qwen3-4B"],
            ["aime24"],
            url_template=server.template("slow"),
            timeout=0.2,
        )
    assert f"{server.base}/slow/Qwen3-4B/aime24.json" in str(info.value)
    assert _files(tmp_path) == []


def test_connection_refused(tmp_path: Path) -> None:
    with socket.socket() as sock:  # a port that nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}/{{model}}/{{benchmark}}.json"
    with pytest.raises(DownloadError, match=rf"cannot fetch http://127\.0\.0\.1:{port}/"):
        download_public(tmp_path, ["Qwen3-4B"], ["aime24"], url_template=url)
    assert _files(tmp_path) == []


def test_redirects_are_followed(server: Server, tmp_path: Path, shared_replay_dir: Path) -> None:
    results = download_public(
        tmp_path, ["Qwen3-0.6B"], ["hmmt25"], url_template=server.template("redirect")
    )
    assert results[0].status == "downloaded"
    assert server.requests == ["/redirect/Qwen3-0.6B/hmmt25.json", "/ok/Qwen3-0.6B/hmmt25.json"]
    name = "Qwen3-0.6B/hmmt25.json"
    assert (tmp_path / name).read_bytes() == (shared_replay_dir / name).read_bytes()


def test_interrupt_mid_transfer_leaves_no_temp_file(server: Server, tmp_path: Path) -> None:
    def interrupt(name: str, done: int, total: int | None) -> None:
        if done > 0:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        download_public(
            tmp_path, ["Qwen3-4B"], ["aime24"], url_template=server.template(), progress=interrupt
        )
    assert _files(tmp_path) == []


def test_progress_reports_bytes_and_callers_client_stays_open(
    server: Server, tmp_path: Path, shared_replay_dir: Path
) -> None:
    calls: list[tuple[str, int, int | None]] = []
    done: list[str] = []
    size = (shared_replay_dir / NAMES[0]).stat().st_size
    with httpx.Client() as client:
        download_public(
            tmp_path,
            ["Qwen3-4B"],
            ["aime24"],
            url_template=server.template(),
            client=client,
            progress=lambda *call: calls.append(call),
            on_file=lambda result: done.append(result.name),
        )
        assert not client.is_closed
    assert calls[0] == (NAMES[0], 0, size)
    assert calls[-1] == (NAMES[0], size, size)
    assert [c[1] for c in calls] == sorted(c[1] for c in calls)
    assert done == [NAMES[0]]


def test_unknown_names_are_rejected_before_any_request(server: Server, tmp_path: Path) -> None:
    with pytest.raises(UnknownName, match="unknown public model 'Qwen3-5B'; did you mean"):
        download_public(tmp_path, ["Qwen3-5B"], ["aime24"], url_template=server.template())
    with pytest.raises(UnknownName, match="unknown public benchmark 'aime23'"):
        download_public(tmp_path, ["Qwen3-4B"], ["aime23"], url_template=server.template())
    with pytest.raises(UsageError, match="bad URL template"):
        download_public(tmp_path, ["Qwen3-4B"], ["aime24"], url_template="http://x/{name}")
    assert server.requests == []
    assert _files(tmp_path) == []


# --------------------------------------------------------------------------- CLI


def test_cli_download_then_skip(
    server: Server, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["data", "download", "-m", "Qwen3-4B", "-B", "aime24,aime25", "--dest", str(tmp_path)]
    assert main([*args, "--url-template", server.template()]) == 0
    out = capsys.readouterr().out
    assert f"downloaded  {NAMES[0]}" in out and f"downloaded  {NAMES[1]}" in out
    assert f"2 file(s) in {tmp_path}: 2 downloaded, 0 already present" in out
    assert _files(tmp_path) == NAMES

    assert main([*args, "--url-template", server.template(), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert f"present     {NAMES[0]}" in out
    assert "2 downloaded" not in out and "2 already present" in out


def test_cli_repeated_options_and_env_destination(
    server: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AUTOTTS_DATA", str(tmp_path / "store"))
    args = ["data", "download", "--model", "Qwen3-4B", "--benchmark", "aime24"]
    assert main([*args, "--benchmark", "aime25", "-q", "--url-template", server.template()]) == 0
    assert _files(tmp_path / "store") == NAMES


@pytest.mark.parametrize(
    ("mode", "extra", "expected"),
    [
        ("gone", [], "HTTP 404 Not Found"),
        ("bad", [], "is not the published"),
        ("drop", [], "cannot fetch"),
        ("ok", ["-m", "Qwen3-5B"], "unknown public model 'Qwen3-5B'"),
        ("ok", ["-B", "aime24,hmmt26"], "unknown public benchmark 'hmmt26'"),
    ],
)
def test_cli_errors_are_one_line_and_exit_2(
    server: Server,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    mode: str,
    extra: list[str],
    expected: str,
) -> None:
    args = ["data", "download", "-m", "Qwen3-4B", "-B", "aime24", *extra, "--dest", str(tmp_path)]
    assert main([*args, "--url-template", server.template(mode)]) == 2
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")
    assert expected in lines[0]
    assert "Traceback" not in err
    assert _files(tmp_path) == []


def test_cli_refuses_synthetic_as_destination(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("AUTOTTS_DATA", "synthetic")
    monkeypatch.chdir(tmp_path)
    assert main(["data", "download", "-m", "Qwen3-4B", "-B", "aime24"]) == 2
    assert "pass --dest" in capsys.readouterr().err
    assert _files(tmp_path) == []


# --------------------------------------------------------------------------- issue 5, defect 7


def _folders(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_dir())


def test_failed_download_removes_the_folders_it_made(server: Server, tmp_path: Path) -> None:
    dest = tmp_path / "new-store"
    with pytest.raises(DownloadError):
        download_public(
            dest, ["Qwen3-4B", "Qwen3-8B"], ["aime24"], url_template=server.template("gone")
        )
    assert not dest.exists()


def test_failed_download_keeps_folders_that_were_there(server: Server, tmp_path: Path) -> None:
    (tmp_path / "Qwen3-4B").mkdir()
    with pytest.raises(DownloadError):
        download_public(
            tmp_path, ["Qwen3-4B", "Qwen3-8B"], ["aime24"], url_template=server.template("gone")
        )
    assert _folders(tmp_path) == ["Qwen3-4B"]


def test_failed_download_keeps_the_files_that_arrived(server: Server, tmp_path: Path) -> None:
    download_public(tmp_path, ["Qwen3-4B"], ["aime24"], url_template=server.template())
    with pytest.raises(DownloadError):
        download_public(
            tmp_path, ["Qwen3-4B", "Qwen3-8B"], ["aime25"], url_template=server.template("drop")
        )
    assert _files(tmp_path) == ["Qwen3-4B/aime24.json"]
    assert _folders(tmp_path) == ["Qwen3-4B"]


def test_offline_error_says_where_to_copy_files_from(tmp_path: Path) -> None:
    with socket.socket() as sock:  # a port that nothing listens on: as good as offline
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}/{{model}}/{{benchmark}}.json"
    with pytest.raises(DownloadError) as info:
        download_public(tmp_path / "store", ["Qwen3-4B"], ["aime24"], url_template=url)
    message = str(info.value)
    assert "\n" not in message
    assert "copy" in message and "<model>/<benchmark>.json" in message
    assert str(tmp_path / "store") in message
    assert "AutoTTS repository" in message


def test_downloaded_files_get_the_umask_mode(server: Server, tmp_path: Path) -> None:
    previous = os.umask(0o022)
    try:
        download_public(tmp_path, ["Qwen3-4B"], ["aime24"], url_template=server.template())
    finally:
        os.umask(previous)
    assert stat.S_IMODE((tmp_path / NAMES[0]).stat().st_mode) == 0o644
