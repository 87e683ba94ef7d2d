"""``autotts report`` writes one self-contained page that a real headless Chromium renders
without console errors."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

BROWSERS = ("chromium-headless-shell", "chromium", "chromium-browser")
BROWSER = next((path for name in BROWSERS if (path := shutil.which(name))), None)


def _need_browser() -> None:
    """CI installs the browser (.ci/run), so there a missing one is a failure, not a skip."""
    if BROWSER is None:
        message = "needs Debian's chromium-headless-shell (installed by .ci/run)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "autotts.cli.main", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=600, check=True)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("report") / "run"
    _run(
        "discover", "--out", str(out), "--data", "synthetic", "--quiet",
        "--candidates", str(ROOT / "examples" / "candidates"),
        "--betas", "0,0.5,1", "--seeds", "3", "--heldout-seeds", "3",
    )  # fmt: skip
    return out


def _chromium(page: Path, screenshot: Path) -> str:
    assert BROWSER is not None
    command = [
        BROWSER, "--headless", "--no-sandbox", "--disable-gpu",
        "--disable-background-networking", "--no-first-run", "--hide-scrollbars",
        "--enable-logging=stderr", "--v=0", "--window-size=1200,1600",
        f"--screenshot={screenshot}", page.as_uri(),
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stderr


def _console_errors(log: str) -> list[str]:
    return [line for line in log.splitlines() if "CONSOLE" in line or "Uncaught" in line]


def test_report_is_self_contained(run_dir: Path) -> None:
    _run("report", str(run_dir))
    html = (run_dir / "report.html").read_text()
    # nothing fetched from anywhere: no external src/href, charts inline
    assert not re.search(r'(src|href)="(https?:)?//', html)
    assert "<script" not in html
    assert html.count("<svg") >= 2 + 3  # trajectory, best-so-far, one per accepted round
    for text in ("Search trajectory", "Held-out comparison", "Proposer costs",
                 "03_peeking", "peeking", "class ConfidenceMomentumPort", "Trace digest",
                 "round 4: 04_confidence_momentum", "SC@64"):  # fmt: skip
        assert text in html, text


def test_chromium_renders_the_report_without_console_errors(run_dir: Path, tmp_path: Path) -> None:
    _need_browser()
    _run("report", str(run_dir), "--out", str(tmp_path / "page.html"))
    shot = tmp_path / "page.png"
    log = _chromium(tmp_path / "page.html", shot)
    assert _console_errors(log) == []
    png = shot.read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 20_000  # a real picture, not blank

    # The check can fail: a page that logs an error is caught the same way.
    broken = tmp_path / "broken.html"
    broken.write_text("<html><body><script>console.error('boom'); undefinedFn();</script></body>")
    assert _console_errors(_chromium(broken, tmp_path / "broken.png"))
