"""``eval --traces``: a trace file heading for hundreds of MB is announced early."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest

from autotts.cli.eval_cmd import TraceSizeWatch

REPLAY = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "replay"


def test_the_projection_warns_once_above_the_limit(capsys: pytest.CaptureFixture[str]) -> None:
    handle = io.StringIO()
    seen: list[int] = []

    def sink(replicate: int, question: int, record: object) -> None:
        seen.append(question)
        handle.write("x" * 100_000 + "\n")  # 100 kB an episode

    watch = TraceSizeWatch(sink, handle, total=3000, path=Path("t.jsonl"))
    for i in range(100):
        watch(0, i, None)
    assert len(seen) == 100  # every episode passed on
    err = capsys.readouterr().err
    assert err.count("warning:") == 1
    assert "t.jsonl is heading for about 286 MB (3,000 episodes at 98 KB)" in err


def test_a_small_file_gets_no_warning(capsys: pytest.CaptureFixture[str]) -> None:
    handle = io.StringIO()
    watch = TraceSizeWatch(lambda *a: handle.write("x" * 1000), handle, 300, Path("t.jsonl"))
    for i in range(300):
        watch(0, i, None)
    assert capsys.readouterr().err == ""


@pytest.mark.skipif(not REPLAY.is_dir(), reason="needs ../shared/data/replay")
def test_the_readme_trace_command_at_100_seeds_warns_early(tmp_path: Path) -> None:
    out = tmp_path / "traces.jsonl"
    process = subprocess.Popen(
        [sys.executable, "-m", "autotts.cli.main", "eval", "--data", str(REPLAY), "-m",
         "Qwen3-4B", "-B", "aime24", "-c", "cmc", "--beta", "1", "--traces", str(out), "-q"],
        stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    try:
        assert process.stderr is not None
        line = process.stderr.readline()  # the first thing it says
    finally:
        process.kill()
        process.wait()
    assert line.startswith(f"warning: {out} is heading for about ")
    megabytes = int(line.split("about ")[1].split(" MB")[0].replace(",", ""))
    assert 300 < megabytes < 800  # measured: 459 MB projected, 485 MB written
    # said after one replicate: the file is still a small part of its projected size
    assert out.stat().st_size < 0.2 * megabytes * 2**20
