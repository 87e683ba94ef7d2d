"""`summarize`, its renderings and `autotts data info` on hand-checkable data."""

from __future__ import annotations

import json
import math
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from autotts.cli.main import main
from autotts.data.loading import load_replay, parse_replay
from autotts.data.summary import format_summary, summarize, summary_table
from autotts.data.synthetic import write_synthetic_store

# Three questions, every number below is worked out by hand.
#
# q0: gold "5", finals 5, 5, 7          -> pass@1 2/3, majority "5" (right)
# q1: gold "3", finals 2, 3, 3, 2       -> pass@1 1/2, tie 2:2 goes to "2" (first seen): wrong
# q2: gold "9", final "ERR"             -> pass@1 0, majority wrong, gold never reached
#
# pass@1 = (2/3 + 1/2 + 0) / 3 = 7/18; majority@all = 1/3; pass@all = 2/3.
# branches 3, 4, 1 -> min 1, max 4, total 8; Δ {500, 250}.
# tokens 1000 1500 600 | 500 2000 800 1200 | 300: total 7900, mean 987.5,
# sorted 300 500 600 800 1000 1200 1500 2000 -> median 900.
# probes 2+3+1 | 1+4+1+2 | 1 = 15 (1.875 per branch), "ERR" among them 1+1 | 2 | 1 = 5:
# 1/3 (the final "ERR" of q2 is not a probe and does not count).
DOCUMENT: list[dict[str, Any]] = [
    {
        "question": "q0",
        "gold_answer": "5",
        "probe_freq": 500,
        "each_branch": [
            [["ERR", "5"], 1000, "5"],
            [["7", "ERR", "5"], 1500, "5"],
            [["7"], 600, "7"],
        ],
    },
    {
        "question": "q1",
        "gold_answer": "3",
        "probe_freq": 500,
        "each_branch": [
            [["2"], 500, "2"],
            [["ERR", "ERR", "3", "3"], 2000, "3"],
            [["3"], 800, "3"],
            [["1", "2"], 1200, "2"],
        ],
    },
    {
        "question": "q2",
        "gold_answer": "9",
        "probe_freq": 250,
        "each_branch": [[["ERR"], 300, "ERR"]],
    },
]


@pytest.fixture
def tiny_file(tmp_path: Path) -> Path:
    path = tmp_path / "Tiny" / "bench.json"
    path.parent.mkdir()
    path.write_text(json.dumps(DOCUMENT))
    return path


def test_summary_numbers(tiny_file: Path) -> None:
    summary = summarize(load_replay(tiny_file))
    assert summary["model"] == "Tiny" and summary["benchmark"] == "bench"
    assert summary["questions"] == 3
    assert summary["branches"] == {"min": 1, "max": 4, "total": 8}
    assert summary["probe_freq"] == [250, 500]
    assert summary["tokens"] == {
        "mean": 987.5,
        "median": 900.0,
        "min": 300,
        "max": 2000,
        "total": 7900,
    }
    assert summary["probes_per_branch"] == 1.875
    assert summary["err_fraction"] == pytest.approx(1 / 3)
    assert summary["pass_at_1"] == pytest.approx(7 / 18)
    assert summary["majority_at_all"] == pytest.approx(1 / 3)
    assert summary["pass_at_all"] == pytest.approx(2 / 3)
    json.dumps(summary)  # plain JSON types only


def test_majority_tie_goes_to_the_first_final() -> None:
    flipped = json.loads(json.dumps(DOCUMENT))
    flipped[1]["each_branch"].reverse()  # finals 2, 3, 3, 2 -> still 2 first
    assert summarize(parse_replay(flipped, source="x"))["majority_at_all"] == pytest.approx(1 / 3)
    flipped[1]["each_branch"] = flipped[1]["each_branch"][1:] + flipped[1]["each_branch"][:1]
    # finals 3, 3, 2, 2: the tie now goes to "3", the gold answer.
    assert summarize(parse_replay(flipped, source="x"))["majority_at_all"] == pytest.approx(2 / 3)


def test_no_err_probes_at_all() -> None:
    document = [
        {"question": "", "gold_answer": "1", "probe_freq": 500, "each_branch": [[[], 10, "1"]]}
    ]
    summary = summarize(parse_replay(document, source="x"))
    # no probe at all is not "0 % ERR probes" (a collection whose branches all ended
    # within Δ tokens was reported as 0 % ERR)
    assert summary["err_fraction"] is None
    assert summary["err_final_fraction"] == 0.0
    assert summary["probes_per_branch"] == 0.0
    assert summary["pass_at_1"] == summary["majority_at_all"] == 1.0
    assert "ERR probes         - (no probes" in format_summary(summary)


def test_err_final_answers_are_reported() -> None:
    # what a chat model prompted as a base model gives: short answers, none boxed
    branches = [[[], 12, "ERR"], [[], 9, "ERR"], [[], 30, "1"], [["ERR"], 600, "ERR"]]
    document = [{"question": "", "gold_answer": "1", "probe_freq": 500, "each_branch": branches}]
    summary = summarize(parse_replay(document, source="x"))
    assert summary["err_final_fraction"] == 0.75
    assert summary["err_fraction"] == 1.0
    text = format_summary(summary)
    assert "ERR final answers  75.00 %" in text
    assert "ERR probes         100.00 %" in text


def test_format_summary(tiny_file: Path) -> None:
    text = format_summary(summarize(load_replay(tiny_file)))
    lines = text.splitlines()
    assert lines[0] == "Tiny/bench"
    assert f"file               {tiny_file}" in text
    assert "branches           1-4 per question, 8 in all" in text
    assert "probe interval Δ   250, 500 tokens" in text
    assert "branch tokens      mean 988, median 900, min 300, max 2,000" in text
    assert "probes per branch  1.88 (mean)" in text
    assert "ERR probes         33.33 %" in text
    assert "pass@1             38.89 %" in text
    assert "majority@all       33.33 %" in text
    assert "pass@all           66.67 %" in text


def test_summary_table_has_one_row_per_file(tiny_file: Path) -> None:
    summary = summarize(load_replay(tiny_file))
    table = summary_table([summary, summary], title="t")
    assert table.row_count == 2
    cells = [list(column.cells) for column in table.columns]
    assert [str(c) for c in cells[0]] == ["Tiny/bench", "Tiny/bench"]  # plain Text, not markup
    assert [c[0] for c in cells[1:]] == [
        "3",
        "8",
        "250, 500",
        "988",
        "900",
        "1.9",
        "33.3",
        "38.89",
        "33.33",
        "66.67",
    ]


def test_agrees_with_a_plain_python_count_on_the_public_files(shared_replay_dir: Path) -> None:
    for path in sorted(shared_replay_dir.glob("*/*.json")):
        document = json.loads(path.read_bytes())
        summary = summarize(load_replay(path))
        pass_at_1, majority, probes, errs = [], [], 0, 0
        for item in document:
            finals = [b[2] for b in item["each_branch"]]
            pass_at_1.append(finals.count(item["gold_answer"]) / len(finals))
            majority.append(Counter(finals).most_common(1)[0][0] == item["gold_answer"])
            for probe_list, _, _ in item["each_branch"]:
                probes += len(probe_list)
                errs += probe_list.count("ERR")
        assert summary["questions"] == len(document) == 30
        assert summary["branches"] == {"min": 128, "max": 128, "total": 3840}
        assert summary["probe_freq"] == [500]
        assert math.isclose(summary["pass_at_1"], sum(pass_at_1) / len(pass_at_1))
        assert math.isclose(summary["majority_at_all"], sum(majority) / len(majority))
        assert math.isclose(summary["err_fraction"], errs / probes)
        assert math.isclose(summary["probes_per_branch"], probes / 3840)


# --------------------------------------------------------------------------- CLI


def test_cli_info_file(tiny_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["data", "info", str(tiny_file)]) == 0
    out = capsys.readouterr().out
    assert out == format_summary(summarize(load_replay(tiny_file)))


def test_cli_info_json(tiny_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["data", "info", "--json", str(tiny_file)]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["pass_at_1"] == pytest.approx(7 / 18)
    assert printed["majority_at_all"] == pytest.approx(1 / 3)
    assert printed["branches"]["total"] == 8


def test_cli_info_store_one_row_per_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_synthetic_store(tmp_path, questions=2, branches=4, seed=0)
    assert main(["data", "info", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if line.startswith("Synth-")]
    assert sorted(row.split()[0] for row in rows) == sorted(
        f"{m}/{b}" for m in ("Synth-Small", "Synth-Large") for b in ("aime24", "aime25", "hmmt25")
    )
    cells = [[c.strip() for c in row.split("│")] for row in rows]
    assert all(c[1:3] == ["2", "8"] for c in cells)  # 2 questions x 4 branches

    assert main(["data", "info", "--json", str(tmp_path)]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert len(printed) == 6 and {s["questions"] for s in printed} == {2}


def test_cli_info_model_folder(tiny_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["data", "info", "--json", str(tiny_file.parent)]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert [(s["model"], s["benchmark"]) for s in printed] == [("Tiny", "bench")]


def test_cli_info_synthetic(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["data", "info", "--json", "synthetic"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert [f"{s['model']}/{s['benchmark']}" for s in printed] == [
        f"{m}/{b}" for m in ("Synth-Small", "Synth-Large") for b in ("aime24", "aime25", "hmmt25")
    ]
    assert all(s["source"].startswith("synthetic:") for s in printed)


def test_cli_info_empty_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["data", "info", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err == f"error: no replay files (<model>/<benchmark>.json) in {tmp_path}\n"
