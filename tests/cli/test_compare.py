"""``autotts compare`` end to end, and the per-question numbers of ``eval``/``sweep``/``table
--json`` (real processes; a controller file runs in the sandbox)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
CANDIDATE = str(ROOT / "examples" / "candidates" / "05_quick_agreement.py")
ROW_KEYS = {
    "scope", "model", "benchmark", "cells", "a_beta", "a_accuracy", "a_tokens", "b_betas",
    "b_weights", "b_accuracy", "b_tokens", "matched", "gain", "ci", "level", "p_not_positive",
}  # fmt: skip
QUESTION_KEYS = {"question", "accuracy", "tokens", "seq_tokens"}


def _run(*args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "autotts.cli.main", *args],
        capture_output=True, text=True, timeout=timeout, cwd=ROOT,
    )  # fmt: skip


def _json(*args: str) -> Any:
    done = _run(*args, "--json", "-q")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_a_file_against_a_builtin_on_public_files(shared_replay_dir: Path) -> None:
    data = str(shared_replay_dir)
    out = _json("compare", CANDIDATE, "cmc", "-d", data, "-m", "Qwen3-0.6B,Qwen3-1.7B",
                "-B", "aime24", "--seeds", "2", "--curve-betas", "0:1:0.25",
                "--resamples", "500", "-w", "1")  # fmt: skip
    assert out["a"]["label"] == "05_quick_agreement" and out["b"]["label"] == "cmc"
    assert out["a"]["sandbox"] and out["b"]["sandbox"] is None  # the file ran sandboxed
    assert [c["beta"] for c in out["a"]["controllers"]] == [0.5, 1.0]
    assert out["bootstrap"] == {
        "resamples": 500, "seed": 0, "level": 0.95, "match": "at-least",
        "pooled": "each question drawn jointly for every model (same benchmark file)",
    }  # fmt: skip
    # the two models' aime24 files hold the same questions: one question set, drawn jointly
    assert len({f["question_set"] for f in out["files"]}) == 1
    rows = out["rows"]
    assert [(r["scope"], r["a_beta"]) for r in rows] == [
        ("cell", 0.5), ("cell", 0.5), ("pooled", 0.5), ("cell", 1.0), ("cell", 1.0),
        ("pooled", 1.0),
    ]  # fmt: skip
    for row in rows:
        assert set(row) == ROW_KEYS
        low, high = row["ci"]
        assert low <= row["gain"] <= high
        assert row["gain"] == pytest.approx(row["a_accuracy"] - row["b_accuracy"])
        # at-least: B never gets fewer tokens than A when matched
        assert row["b_tokens"] >= row["a_tokens"] or not row["matched"]
    pooled = rows[2]
    assert pooled["cells"] == 2 and pooled["model"] is None
    assert pooled["gain"] == pytest.approx((rows[0]["gain"] + rows[1]["gain"]) / 2)

    # A's numbers are what `eval` gives for the file, through the same sandboxed path
    ev = _json("eval", "-c", CANDIDATE, "-b", "0.5", "-d", data, "-m", "Qwen3-0.6B",
               "-B", "aime24", "--seeds", "2")  # fmt: skip
    assert ev["controller"]["sandbox"]  # it ran in the sandbox
    per_q = ev["per_question"]
    assert rows[0]["model"] == "Qwen3-0.6B"
    assert rows[0]["a_accuracy"] == pytest.approx(np.mean([q["accuracy"] for q in per_q]))
    assert rows[0]["a_tokens"] == pytest.approx(ev["metrics"]["tokens"])


def test_a_controller_against_itself_gains_exactly_nothing() -> None:
    out = _json("compare", "cmc", "cmc", "-d", "synthetic", "--seeds", "2", "-B", "aime24",
                "--resamples", "300", "-w", "1")  # fmt: skip
    assert len(out["rows"]) == 2 * 3  # two β × (two models + pooled)
    for row in out["rows"]:
        assert row["b_betas"] == [row["a_beta"]]
        assert row["gain"] == 0.0 and row["ci"] == [0.0, 0.0]


def test_a_table_row_as_b_and_the_text_table() -> None:
    done = _run("compare", "cmc", "SC@64", "-d", "synthetic", "--seeds", "2", "-B", "aime24",
                "--betas", "0.5", "--resamples", "300", "--level", "0.9", "-q",
                "-w", "1")  # fmt: skip
    assert done.returncode == 0, done.stderr
    text = done.stdout
    assert "A = cmc, B = SC@64" in text and "90 % CI" in text
    assert "pooled" in text and "Synth-Small" in text and "Synth-Large" in text


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["cmx"], "unknown controller 'cmx'; did you mean 'cmc'"),
        (["cmc", "sc@65"], "did you mean 'SC@64'"),
        (["missing/nowhere.py"], "controller file missing/nowhere.py does not exist"),
        (["cmc", "--level", "1.5"], "--level must lie strictly between 0 and 1"),
        (["cmc", "--match", "nearest"], "--match must be one of at-least, interpolate"),
        (["cmc", "--betas", "2"], "--betas values must lie in [0, 1]"),
        (["cmc", "-m", "Nobody"], "unknown model 'Nobody'"),
    ],
)
def test_bad_input_is_one_clean_line(args: list[str], message: str) -> None:
    done = _run("compare", *args, "-d", "synthetic", "--seeds", "1", "-q", timeout=120)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert done.stderr.startswith("error: ") and message in done.stderr, done.stderr


def test_eval_sweep_and_table_json_carry_per_question_numbers() -> None:
    common = ["-d", "synthetic", "--seeds", "2"]
    ev = _json("eval", "-c", "cmc", "-b", "0.5", *common)
    assert set(ev["metrics"]) == {"accuracy", "accuracy_ci95", "tokens", "seq_tokens",
                                  "replicates", "questions"}  # fmt: skip
    per_q = ev["per_question"]
    assert [q["question"] for q in per_q] == list(range(ev["metrics"]["questions"]))
    assert all(set(q) == QUESTION_KEYS for q in per_q)
    # the file's accuracy is published rounded to 2 decimals; the questions' are not
    assert np.mean([q["accuracy"] for q in per_q]) == pytest.approx(
        ev["metrics"]["accuracy"], abs=0.005
    )
    assert np.mean([q["tokens"] for q in per_q]) == pytest.approx(ev["metrics"]["tokens"])

    sweep = _json("sweep", "-c", "cmc", "--betas", "0.5", *common, "-w", "1")
    assert sweep[0]["per_question"] == per_q

    table = _json("table", "-d", "synthetic", "--seeds", "2", "--methods", "CMC β=0.5",
                  "-m", ev["data"]["model"], "-B", ev["data"]["benchmark"], "-w", "1")  # fmt: skip
    assert table[0]["per_question"] == per_q
