"""``autotts explain`` on a real trace file: picture rows and colours, the summary's numbers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from autotts.cli.main import main
from autotts.report.timeline import DPI, WRONG, timeline_layout
from autotts.report.trace_view import episode_view

pytest.importorskip("matplotlib")
from matplotlib.image import imread


@pytest.fixture(scope="module")
def traces(shared_replay_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """CMC β=0.5 on Qwen3-4B/aime24, 2 shuffle seeds: a real trace file (60 episodes)."""
    path = tmp_path_factory.mktemp("traces") / "cmc.jsonl"
    args = ["eval", "--data", str(shared_replay_dir), "-m", "Qwen3-4B", "-B", "aime24"]
    assert main([*args, "-c", "cmc", "--beta", "0.5", "--seeds", "2", "--traces", str(path)]) == 0
    return path


def _rows(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def _branches(row: dict[str, Any]) -> int:
    return len({s["input"]["branch"] for s in row["trace"] if s["event"] == "read"})


def _has_colour(image: np.ndarray, hex_colour: str) -> bool:
    rgb = np.array([int(hex_colour[i : i + 2], 16) for i in (1, 3, 5)]) / 255
    return bool((np.abs(image[..., :3] - rgb).max(axis=-1) < 0.01).any())


def test_episode_picture_has_one_row_per_branch(traces: Path, tmp_path: Path) -> None:
    rows = _rows(traces)
    wrong = next(r for r in rows if not r["is_correct"])
    right = next(r for r in rows if r["is_correct"] and _branches(r) != _branches(wrong))
    shapes = {}
    for row in (wrong, right):
        key = f"{row['question_index']}:{row['replicate']}"
        out = tmp_path / f"{key.replace(':', '_')}.png"
        assert main(["explain", str(traces), "--episode", key, "--out", str(out)]) == 0
        image = imread(out)
        layout = timeline_layout(episode_view(row))
        assert layout.rows == _branches(row)
        assert layout.signals == ("ema", "conf")  # CMC's confidence, drawn above the rows
        assert image.shape[:2] == (round(layout.height * DPI), round(layout.width * DPI))
        shapes[key] = image.shape[0]
        # a wrong returned answer is drawn red; a correct episode has no red at all
        assert _has_colour(image, WRONG) is (not row["is_correct"])
    assert len(set(shapes.values())) == 2  # more branches, taller picture


def test_episode_text_names_the_stop(traces: Path, capsys: pytest.CaptureFixture[str]) -> None:
    first = _rows(traces)[0]
    assert main(["explain", str(traces)]) == 0
    text = capsys.readouterr().out
    finish = first["trace"][-1]
    assert f"question {first['question_index']}, replicate {first['replicate']}" in text
    assert f"stop ({finish['output']['stop_reason']}): {finish['decision']}" in text
    assert f"{_branches(first)} branches" in text
    checks = [s for s in first["trace"] if s["event"] == "terminate_check"]
    assert text.rstrip().endswith(checks[-1]["decision"])
    assert checks[-1]["decision"].startswith("stop:") is (
        finish["output"]["stop_reason"] == "confident"
    )


def test_summary_counts_stop_reasons_and_their_accuracy(
    traces: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "summary.png"
    assert main(["explain", str(traces), "--summary", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    rows = _rows(traces)
    assert f"{len(rows)} episodes" in text
    reasons: dict[str, list[bool]] = {}
    for row in rows:
        reasons.setdefault(row["trace"][-1]["output"]["stop_reason"], []).append(row["is_correct"])
    for reason, hits in reasons.items():
        line = next(line for line in text.splitlines() if line.strip().startswith(reason))
        cells = line.split()
        assert f"{len(hits)}" in cells
        assert f"{100 * sum(hits) / len(hits):.2f}%" in cells
    shares = [
        float(line.split()[0]) for line in text.splitlines() if "% " in line and "of tokens" in line
    ]
    assert sum(shares) == pytest.approx(100, abs=0.2)
    assert imread(out).shape[:2] == (round(4.2 * 110), 13 * 110)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["missing.jsonl"], "trace file not found"),
        (["{t}", "--episode", "99"], "no episode 99"),
        (["{t}", "--episode", "a:b"], "--episode must be QUESTION or QUESTION:REPLICATE"),
        (["{t}", "--episode", "0", "--summary"], "choose one of --episode and --summary"),
        (["{t}", "--out", "{d}"], "is a folder"),
        (["{t}", "--out", "{d}/x.txt"], "--out must end in .png"),
        (["{bad}"], "not a JSON line"),
    ],
)
def test_explain_refuses_bad_input_in_one_line(
    traces: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text("{not json\n")
    filled = [a.format(t=traces, d=tmp_path, bad=bad) for a in args]
    assert main(["explain", *filled]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_answers_that_look_like_latex_are_drawn_as_written(tmp_path: Path) -> None:
    from autotts.report.timeline import draw_timeline

    read = {
        "event": "read",
        "goal": "",
        "input": {"branch": 0, "depth": 1, "full": True},
        "output": {"answer": "$\\frac{1", "finished": True},
        "state": {"charged": 900, "tokens": 900},
        "decision": "",
    }
    finish = {
        "event": "finish",
        "goal": "",
        "input": None,
        "output": {"answer": "$\\frac{1", "gold": "$5$", "correct": False, "tokens": 900},
        "state": {},
        "decision": "answer '$\\frac{1'",
    }
    row = {"question_index": 0, "replicate": 0, "trace": [read, finish]}
    # an unbalanced "$" would make matplotlib's math parser raise while saving
    layout = draw_timeline(episode_view(row), tmp_path / "x.png")
    assert layout.rows == 1
    assert imread(tmp_path / "x.png").shape[:2] == layout.pixels
