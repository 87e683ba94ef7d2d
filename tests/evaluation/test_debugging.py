"""Debugging a controller (issue 5): where it crashed, runaway loops, the guide, every knob."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

import autotts
from autotts import errors
from autotts.cli.main import main
from autotts.controllers.registry import REGISTRY, ControllerSpec, build, load_controller_class
from autotts.errors import ControllerError, StepLimitExceeded
from autotts.evaluation.protocols import ReferenceProtocol
from autotts.evaluation.runner import run_episodes
from tests.cli.test_bad_arguments import store  # noqa: F401 (fixture)
from tests.helpers import make_replay

HEADER = (
    "from autotts import Controller\n"
    "class C(Controller):\n"
    "    def __init__(self, beta: float = 0.5):\n"
    "        self.beta = beta\n"
    "    def solve(self, session):\n"
)

CRASHING = HEADER + (
    "        answer, branch, done = session.probe_new()\n"  # line 6
    "        session.trace('look', output={'answer': answer})\n"
    "        if session.tokens_used > 0:\n"
    "            return helper(answer)\n"  # line 9
    "        return answer\n"
    "def helper(answer):\n"
    "    raise RuntimeError('boom')\n"  # line 12
)

RUNAWAY = HEADER + (
    "        answer, branch, done = session.probe_new()\n"
    "        while True:\n"  # free once the branch is finished: never stops by itself
    "            answer, done = session.probe_more(branch)\n"
)


def _file(tmp_path: Path, source: str) -> Path:
    path = tmp_path / "ctl.py"
    path.write_text(source)
    return path


@pytest.mark.parametrize("trust", [False, True])
def test_crash_names_the_controller_line_and_the_episode(
    trust: bool,
    tmp_path: Path,
    store: Path,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = _file(tmp_path, CRASHING)
    args = ["eval", "-c", f"{path}:C", "--data", str(store), "--seeds", "2"]
    assert main(args + (["--trust"] if trust else [])) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    if trust:
        assert err[0] == (
            f"error: C crashed on question 0 (replicate 0) at {path}:12 (in helper, called "
            f"from {path}:9): RuntimeError: boom"
        )
    else:  # the sandbox names the innermost line of the file
        assert err[0] == (
            "error: controller rejected (crash): C crashed on question 0 (replicate 0): "
            f"RuntimeError at {path}:12; the controller's message: 'boom'"
        )


@pytest.mark.parametrize("trust", [False, True])
def test_crashing_episode_trace_is_written(
    trust: bool,
    tmp_path: Path,
    store: Path,  # noqa: F811
) -> None:
    path = _file(tmp_path, CRASHING)
    traces = tmp_path / "t.jsonl"
    args = ["eval", "-c", f"{path}:C", "--data", str(store), "--seeds", "2"]
    assert main([*args, "--traces", str(traces)] + (["--trust"] if trust else [])) == 2
    lines = [json.loads(line) for line in traces.read_text().splitlines()]
    assert len(lines) == 1
    row = lines[0]
    assert (row["replicate"], row["question_index"]) == (0, 0)
    assert "RuntimeError" in row["error"] and "boom" in row["error"]
    events = [step["event"] for step in row["trace"]]
    assert "look" in events and "read" in events  # the controller's steps and its reads
    assert events[0] == ("start" if trust else "read")
    assert events[-1] == "error"


@pytest.mark.parametrize("trust", [False, True])
def test_runaway_controller_is_stopped_by_the_step_limit(
    trust: bool,
    tmp_path: Path,
    store: Path,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = _file(tmp_path, RUNAWAY)
    args = ["eval", "-c", f"{path}:C", "--data", str(store), "--seeds", "1", "--max-steps", "500"]
    assert main(args + (["--trust"] if trust else [])) == 2
    line = capsys.readouterr().err.strip()
    assert "question 0 (replicate 0)" in line
    assert "500 session calls" in line and "--max-steps" in line
    assert f"{path}:8" in line


def test_step_limit_default_and_runner_setting(tmp_path: Path) -> None:
    cls = load_controller_class(f"{_file(tmp_path, RUNAWAY)}:C", trusted=True)
    replay = make_replay([[(["a", "b"], 1000, "b")] * 3])
    with pytest.raises(ControllerError, match="100,000 session calls") as info:
        run_episodes(cls(), replay, ReferenceProtocol(seeds=1))
    assert isinstance(info.value.__cause__, StepLimitExceeded)
    with pytest.raises(ControllerError, match="7 session calls"):
        run_episodes(cls(), replay, ReferenceProtocol(seeds=1), max_steps=7)


def test_a_controller_within_the_limit_is_unaffected() -> None:
    replay = make_replay([[(["a", "b"], 1000, "b")] * 3])
    spec = ControllerSpec("esc", params={"max_samples": 3, "window_size": 1})
    table = run_episodes(build(spec), replay, ReferenceProtocol(seeds=2), vectorised=False)
    assert table.correct.all()


# -- the guide and the exceptions it names --------------------------------------------------


def test_guide_is_printed_by_the_cli(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["guide"]) == 0
    text = capsys.readouterr().out
    assert text.startswith("# Writing an autotts controller")
    assert "session.probe_new()" in text


def test_exceptions_named_in_the_guide_are_importable_from_autotts(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["guide"]) == 0
    text = capsys.readouterr().out
    named = set(re.findall(r"`([A-Z][A-Za-z]+)`", text)) & set(errors.__all__)
    assert {"NoMoreBranches", "InvalidAction", "StepLimitExceeded"} <= named
    for name in named:
        assert getattr(autotts, name) is getattr(errors, name)
        assert name in autotts.__all__


def test_readme_links_the_guide() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    assert "src/autotts/controllers/controller_api.md" in readme
    assert "autotts guide" in readme


# -- every resolved parameter of a built-in can be set ---------------------------------------


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_every_resolved_parameter_can_be_set(name: str) -> None:
    resolved = build(ControllerSpec(name)).params()
    for key, value in resolved.items():
        changed = not value if isinstance(value, bool) else value
        rebuilt = build(ControllerSpec(name, params={key: changed})).params()
        assert rebuilt[key] == changed, key


def test_cmc_parameter_from_the_cli(
    store: Path,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:
    args = ["eval", "-c", "cmc", "-p", "n_init=3", "-p", "beta=0.7", "--json", "--seeds", "2"]
    assert main([*args, "--data", str(store)]) == 0
    params = json.loads(capsys.readouterr().out)["params"]
    assert params["n_init"] == 3 and params["beta"] == 0.7
    assert params["max_branch_use"] == build(ControllerSpec("cmc", 0.7)).params()["max_branch_use"]


def test_cmc_unknown_or_mistyped_setting(
    store: Path,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["eval", "-c", "cmc", "-p", "n_inti=3", "--data", str(store)]) == 2
    assert "did you mean 'n_init'" in capsys.readouterr().err
    assert main(["eval", "-c", "cmc", "-p", "ema_alpha=x", "--data", str(store)]) == 2
    assert "ema_alpha of cmc must be a number, got 'x'" in capsys.readouterr().err


def test_sweep_shows_the_parameters_of_each_point(
    store: Path,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:
    args = ["sweep", "-c", "sc", "--betas", "0,1", "-q", "--seeds", "2", "--data", str(store)]
    assert main(args) == 0
    out = capsys.readouterr().out.splitlines()
    assert "params" in out[0].split()
    assert out[1].rstrip().endswith("n=1") and out[2].rstrip().endswith("n=64")
