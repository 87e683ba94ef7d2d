"""``autotts report`` writes one self-contained page that a real headless Chromium renders
without console errors."""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

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
                 "round 4: 04_confidence_momentum", "SC@64", 'id="verdict"'):  # fmt: skip
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


#: Run in the page after layout: the verdict's text and, per chart, its legend entries
#: (label, colour) and any legend text drawn past the chart's right edge.
PROBE = """<pre id="probe"></pre><script>
const charts = [...document.querySelectorAll("svg")].map(svg => {
  const width = svg.viewBox.baseVal.width;
  const entries = [...svg.querySelectorAll("g.legend-entry")].map(g => {
    const text = g.querySelector("text"), box = text.getBBox();
    return {label: text.textContent, colour: g.querySelector("line").getAttribute("stroke"),
            dashed: g.querySelector("line").hasAttribute("stroke-dasharray"),
            cut: box.x + box.width > width};
  });
  return {title: svg.getAttribute("aria-label"), entries};
});
document.getElementById("probe").textContent = JSON.stringify({
  verdict: document.getElementById("verdict").innerText, charts});
</script>"""


def _rendered(page: Path) -> dict[str, Any]:
    """What :data:`PROBE` found in ``page`` as Chromium laid it out."""
    assert BROWSER is not None
    probed = page.with_name("probed.html")
    probed.write_text(page.read_text().replace("</body>", PROBE + "</body>"))
    command = [BROWSER, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
               "--window-size=1200,1600", "--dump-dom", probed.as_uri()]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    found = re.search(r'<pre id="probe">(.*?)</pre>', done.stdout, re.S)
    assert found and found.group(1), done.stdout[-2000:]
    value: dict[str, Any] = json.loads(html.unescape(found.group(1)))
    return value


def test_chromium_shows_the_verdict_and_a_legend_entry_per_baseline(
    run_dir: Path, tmp_path: Path
) -> None:
    _need_browser()
    _run("report", str(run_dir), "--out", str(tmp_path / "page.html"))
    page = _rendered(tmp_path / "page.html")
    # Round 4 is a port of CMC: on the held-out files it is CMC β=1.0 exactly.
    assert "Round 4 (04_confidence_momentum) at β = 1 is CMC β=1.0's twin" in page["verdict"]
    assert "identical held-out numbers" in page["verdict"]
    assert "95 % bootstrap interval [+0.00, +0.00]" in page["verdict"]
    charts = {c["title"]: c["entries"] for c in page["charts"]}
    trajectory = charts["Search trajectory: mean search-set accuracy vs tokens, per round"]
    baselines = [e for e in trajectory if e["label"].endswith("(baseline)")]
    names = ["SC", "ASC", "ESC", "Parallel-Probe", "CMC"]
    assert [e["label"] for e in baselines] == [f"{n} (baseline)" for n in names]
    assert len({e["colour"] for e in baselines}) == len(names)
    # The selection has its own entry and a colour no baseline has.
    selected = [e for e in trajectory if e["label"].endswith("(selected)")]
    assert len(selected) == 1 and selected[0]["colour"] not in {e["colour"] for e in baselines}
    held = [entries for title, entries in charts.items() if title.startswith("Held-out")]
    assert held
    for entries in held:
        labels = [e["label"] for e in entries]
        assert {"SC@64", "ASC", "ESC", "Parallel-Probe", "CMC β=0.5", "CMC β=1.0"} <= set(labels)
        assert len({e["colour"] for e in entries}) == len(entries)
    # No legend label is cut off by its chart's edge.
    assert not [e["label"] for c in page["charts"] for e in c["entries"] if e["cut"]]
