"""Bad arguments to the live commands: one line on stderr, exit code 2, no server started."""

from __future__ import annotations

from pathlib import Path

import pytest

from autotts.cli.main import main

CASES = {
    "replay-server unknown model": (
        ["replay-server", "--data", "synthetic", "--model", "Synth-Lrage"],
        "unknown model 'Synth-Lrage'; did you mean 'Synth-Large'",
    ),
    "serve unknown controller": (
        ["serve", "--upstream", "http://127.0.0.1:9/v1", "--model", "m", "--controller", "cmx"],
        "unknown controller 'cmx'",
    ),
    "serve beta out of range": (
        ["serve", "--upstream", "http://127.0.0.1:9/v1", "--model", "m", "--beta", "2"],
        "beta must be in [0, 1]",
    ),
    # The short flags every command shares (-d data, -m model, -B benchmark, -c controller,
    # -b beta, -o output) reach the same checks as the long ones.
    "replay-server short flags": (
        ["replay-server", "-d", "synthetic", "-m", "Synth-Lrage", "-B", "aime24"],
        "unknown model 'Synth-Lrage'",
    ),
    "serve short flags": (
        ["serve", "--upstream", "http://127.0.0.1:9/v1", "-m", "m", "-c", "cmx", "-b", "0.5"],
        "unknown controller 'cmx'",
    ),
    "collect short flags": (
        ["collect", "--base-url", "u", "-m", "m", "--questions", "/nope.jsonl", "-o", "x.json"],
        "questions file /nope.jsonl does not exist",
    ),
    "serve bad template": (
        ["serve", "--upstream", "u", "--model", "m", "--template", "no placeholder"],
        "{question}",
    ),
    "collect missing questions": (
        [
            "collect",
            "--base-url",
            "u",
            "--model",
            "m",
            "--questions",
            "/nope.jsonl",
            "--out",
            "x.json",
        ],
        "questions file /nope.jsonl does not exist",
    ),
    "collect zero n": (
        [
            "collect",
            "--base-url",
            "u",
            "--model",
            "m",
            "--questions",
            "{q}",
            "--n",
            "0",
            "--out",
            "x.json",
        ],
        "n must be >= 1",
    ),
    "eval unknown answers mode": (
        ["eval", "--data", "synthetic", "-c", "sc", "--answers", "fuzzy"],
        "unknown --answers value 'fuzzy'",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_one_line_error(case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    questions = tmp_path / "q.jsonl"
    questions.write_text('{"question": "a"}\n')
    argv, message = CASES[case]
    argv = [arg.replace("{q}", str(questions)) for arg in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert err.startswith("error: ") and message in err, err
