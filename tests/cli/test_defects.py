"""Issue 5's CLI defects, one test (or table of cases) each; every one failed before its fix."""

from __future__ import annotations

import json
import os
import re
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer

from autotts.cli.main import app, main
from tests.cli.test_bad_arguments import store, write_controller  # noqa: F401 (fixture)
from tests.helpers import same_numbers


def _one_error_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: "), err
    assert "Traceback" not in err
    return lines[0]


# -- 1. `eval -q` on the episode-by-episode path ------------------------------------------


@pytest.mark.parametrize("traces", [False, True])
def test_quiet_episode_by_episode_eval_runs(
    store: Path,  # noqa: F811
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    traces: bool,
) -> None:
    reference = write_controller(tmp_path, "        return session.full_read()")
    extra = ["--traces", str(tmp_path / "t.jsonl")] if traces else []
    args = ["eval", "-c", reference, "-q", "--data", str(store), "--seeds", "3", *extra]
    assert main(args) == 0, capsys.readouterr().err
    assert "accuracy" in capsys.readouterr().out


def test_quiet_builtin_with_traces(store: Path, tmp_path: Path) -> None:  # noqa: F811
    traces = tmp_path / "t.jsonl"
    args = ["eval", "-c", "sc", "-b", "0.3", "-q", "--data", str(store), "--seeds", "2"]
    assert main([*args, "--traces", str(traces)]) == 0
    assert len(traces.read_text().splitlines()) == 2 * 3


# -- 2. a folder or an unwritable place as an output path -----------------------------------


def _output_cases(tmp_path: Path) -> dict[str, list[str]]:
    folder = tmp_path / "a-folder.png"
    folder.mkdir()
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    return {
        "out is a folder": ["eval", "-c", "sc", "--json", "--out", str(folder)],
        "out under a file": ["eval", "-c", "sc", "--out", str(blocker / "x.json")],
        "traces is a folder": ["eval", "-c", "sc", "--traces", str(folder)],
        "traces under a file": ["eval", "-c", "sc", "--traces", str(blocker / "t.jsonl")],
        "plot is a folder": ["sweep", "-c", "sc", "--betas", "0", "--plot", str(folder)],
        "plot under a file": ["sweep", "-c", "sc", "--betas", "0", "--plot", f"{blocker}/p.png"],
        "table out is a folder": ["table", "--methods", "SC@64", "--out", str(folder)],
        "synth out under a file": ["data", "synth", "--out", str(blocker / "store")],
        # /proc takes no new files, not even from root: the test that permissions cannot fake
        "out in a read-only folder": ["eval", "-c", "sc", "--out", "/proc/a-file.json"],
        "traces in a read-only folder": ["eval", "-c", "sc", "--traces", "/proc/a-file.jsonl"],
    }


@pytest.mark.parametrize(
    "case",
    [
        "out is a folder",
        "out under a file",
        "traces is a folder",
        "traces under a file",
        "plot is a folder",
        "plot under a file",
        "table out is a folder",
        "synth out under a file",
        "out in a read-only folder",
        "traces in a read-only folder",
    ],
)
def test_bad_output_location_is_one_line(
    case: str,
    store: Path,  # noqa: F811
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    args = _output_cases(tmp_path)[case]
    if args[0] != "data":
        args += ["--data", str(store), "--seeds", "2"]
    assert main(args) == 2
    line = _one_error_line(capsys.readouterr().err)
    assert "a-f" in line  # names the path


# -- 3. atomically written files get the umask's mode ---------------------------------------


@pytest.fixture
def umask() -> Iterator[None]:
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize("mask", [0o022, 0o027])
def test_written_files_follow_the_umask(
    mask: int,
    umask: None,
    store: Path,  # noqa: F811
    tmp_path: Path,
) -> None:
    os.umask(mask)
    expected = 0o666 & ~mask
    out = tmp_path / "r.json"
    assert main(["eval", "-c", "sc", "--json", "-o", str(out), "--data", str(store)]) == 0
    assert _mode(out) == expected
    synth = tmp_path / "synth"
    assert main(["data", "synth", "--out", str(synth), "--questions", "1", "--branches", "2"]) == 0
    written = sorted(synth.rglob("*.json"))
    assert written and {_mode(p) for p in written} == {expected}
    plot = tmp_path / "c.png"
    args = ["sweep", "-c", "sc", "--betas", "0", "-q", "--plot", str(plot), "--data", str(store)]
    assert main(args) == 0
    assert _mode(plot) == expected


# -- 4. --param values are checked against the parameter's type ----------------------------

PARAM_CASES = {
    "not a number": (["-c", "sc", "-p", "n=abc"], "n of sc must be an integer, got 'abc'"),
    "truncated float": (["-c", "sc", "-p", "n=8.5"], "n of sc must be an integer, got 8.5"),
    "bool for int": (["-c", "sc", "-p", "n=true"], "n of sc must be an integer, got true"),
    "text for float": (["-c", "asc", "-p", "threshold=high"], "threshold of asc must be a number"),
    "no repeated prefix": (["-c", "sc", "-p", "n=0"], "error: sc: n must be >= 1"),
}


@pytest.mark.parametrize(("args", "expected"), PARAM_CASES.values(), ids=PARAM_CASES.keys())
def test_param_values_are_type_checked(
    args: list[str],
    expected: str,
    store: Path,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["eval", *args, "--data", str(store), "--seeds", "2"]) == 2
    line = _one_error_line(capsys.readouterr().err)
    assert expected in line
    assert "sc: sc:" not in line


def test_int_given_for_a_float_parameter_is_accepted(
    store: Path,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:
    args = [
        "eval",
        "-c",
        "asc",
        "-p",
        "threshold=1",
        "--json",
        "--data",
        str(store),
        "--seeds",
        "2",
    ]
    assert main(args) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["params"]["threshold"] == 1.0


# -- 5. table --json rows carry provenance; --help does not call rounded numbers raw -------


def test_table_json_rows_carry_provenance(
    store: Path,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:
    args = ["table", "--methods", "SC@64", "--seeds", "2", "--json", "--data", str(store)]
    assert main(args) == 0
    rows = json.loads(capsys.readouterr().out)
    assert len(rows) == 2
    for row in rows:
        assert row["controller"] == {"name": "sc", "params": {"n": 64}}
        assert len(row["data_sha256"]) == 64
        assert row["protocol"] == {"name": "reference", "seeds": [0, 1]}


def test_table_help_does_not_call_rounded_numbers_raw(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["table", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert re.search(r"\braw\b", text) is None
    assert "2 decimals" in text


# -- 9. options that do not apply are refused; duplicates are said --------------------------

IGNORED_CASES = {
    "size under reference": (["--size", "32"], "--size applies only to --protocol subsample"),
    "draws under reference": (["--draws", "5"], "--draws applies only to --protocol subsample"),
    "seeds under subsample": (
        ["--protocol", "subsample", "--size", "8", "--seeds", "5"],
        "--seeds applies only to --protocol reference",
    ),
}


@pytest.mark.parametrize(("extra", "expected"), IGNORED_CASES.values(), ids=IGNORED_CASES.keys())
@pytest.mark.parametrize("command", ["eval", "sweep"])
def test_options_of_the_other_protocol_are_refused(
    command: str,
    extra: list[str],
    expected: str,
    store: Path,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:
    beta = ["--beta", "0"] if command == "eval" else ["--betas", "0"]
    assert main([command, "-c", "sc", *beta, *extra, "--data", str(store)]) == 2
    assert expected in _one_error_line(capsys.readouterr().err)


def test_sweep_duplicates_are_evaluated_once_and_said(
    store: Path,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:
    args = ["sweep", "-c", "sc", "-c", "sc,cmc", "--betas", "0,0.5,0.5", "--json", "-q"]
    assert main([*args, "--seeds", "2", "--data", str(store)]) == 0
    captured = capsys.readouterr()
    results = json.loads(captured.out)
    assert [(r["controller"]["name"], r["controller"]["beta"]) for r in results] == [
        ("sc", 0.0),
        ("sc", 0.5),
        ("cmc", 0.0),
        ("cmc", 0.5),
    ]
    assert "duplicate controller 'sc'" in captured.err
    assert "duplicate β 0.5" in captured.err


# -- 10. one meaning per short flag across the whole CLI -------------------------------------


def _walk(command: Any, path: str) -> Iterator[tuple[str, Any]]:
    """Every (command path, parameter) below ``command`` (the framework's own objects)."""
    for param in command.params:
        yield path, param
    for name, sub in (getattr(command, "commands", None) or {}).items():
        yield from _walk(sub, f"{path} {name}")


def _meaning(param: Any) -> str:
    """A parameter's meaning: its name with a plural 's' dropped (--model/--models)."""
    name = param.name or ""
    return name[:-1] if name.endswith("s") else name


def test_short_flags_have_one_meaning_everywhere() -> None:
    meanings: dict[str, set[str]] = {}
    where: dict[str, list[str]] = {}
    for path, param in _walk(typer.main.get_command(app), "autotts"):
        if param.param_type_name != "option":
            continue
        for flag in [*param.opts, *param.secondary_opts]:
            if len(flag) == 2 and flag.startswith("-"):
                meanings.setdefault(flag, set()).add(_meaning(param))
                where.setdefault(flag, []).append(f"{path} {param.opts[-1]}")
    clashes = {flag: where[flag] for flag, names in meanings.items() if len(names) > 1}
    assert not clashes, clashes
    assert {"-c", "-m", "-B", "-d", "-o", "-w", "-q", "-p", "-b"} <= set(meanings)


def test_eval_takes_workers(
    store: Path,  # noqa: F811
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    reference = write_controller(tmp_path, "        return session.full_read()")
    base = ["eval", "-c", reference, "-q", "--json", "--data", str(store), "--seeds", "5"]
    assert main([*base, "-w", "1"]) == 0
    one = json.loads(capsys.readouterr().out)
    assert main([*base, "--workers", "2"]) == 0
    two = json.loads(capsys.readouterr().out)
    # One worker may run the file on PyPy, a split on CPython: the same numbers either way.
    assert same_numbers(one) == same_numbers(two)


def test_table_duplicate_methods_are_evaluated_once(
    store: Path,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:
    args = ["table", "--methods", "SC@64,ASC", "--methods", "SC@64", "-m", "Tiny", "-B", "aime24"]
    assert main([*args, "--seeds", "2", "--json", "--data", str(store)]) == 0
    captured = capsys.readouterr()
    assert [row["method"] for row in json.loads(captured.out)] == ["SC@64", "ASC"]
    assert "duplicate method 'SC@64'" in captured.err


def test_plot_suffix_is_checked_before_any_work(
    store: Path,  # noqa: F811
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # A controller that would crash if it ran: the bad suffix must be found first.
    reference = write_controller(tmp_path, "        raise RuntimeError('ran')")
    args = ["sweep", "-c", reference, "--betas", "0", "--plot", str(tmp_path / "p.txt")]
    assert main([*args, "--data", str(store)]) == 2
    assert "must end in .png" in _one_error_line(capsys.readouterr().err)
