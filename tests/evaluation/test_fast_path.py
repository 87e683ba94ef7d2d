"""The lean episode path gives the numbers and errors of the general one.

Per episode (correct, tokens, longest branch), on real replay data: every
built-in through the lean path equals its vectorised kernel and the general
path; a controller file equals itself before and after; crashes are reported
with the same one-line message (file:line, question, replicate).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from autotts import Controller, Session
from autotts.controllers.registry import REGISTRY, ControllerSpec, build, load_controller_class
from autotts.data.loading import load_replay
from autotts.data.records import ReplaySet
from autotts.errors import ControllerError
from autotts.evaluation.protocols import ReferenceProtocol, SubsampleProtocol
from autotts.evaluation.runner import EpisodeTable, run_episodes

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture(scope="module")
def real(shared_replay_dir: Path) -> ReplaySet:
    return load_replay(shared_replay_dir / "Qwen3-1.7B" / "hmmt25.json")


def _same(a: EpisodeTable, b: EpisodeTable) -> None:
    np.testing.assert_array_equal(a.correct, b.correct)
    np.testing.assert_array_equal(a.cost, b.cost)
    np.testing.assert_array_equal(a.sequential_cost, b.sequential_cost)


@pytest.mark.parametrize("name", sorted(REGISTRY))
@pytest.mark.parametrize("beta", [0.0, 0.6, 1.0])
def test_every_builtin_on_the_lean_path_equals_its_kernel(
    real: ReplaySet, name: str, beta: float
) -> None:
    controller = build(ControllerSpec(name, beta=beta))
    protocol = ReferenceProtocol(seeds=4)
    lean = run_episodes(controller, real, protocol, vectorised=False)
    _same(lean, run_episodes(controller, real, protocol))
    _same(lean, run_episodes(controller, real, protocol, vectorised=False, fast=False))


@pytest.mark.parametrize(
    "reference",
    [
        "cmc_file.py:CMCFile",
        "candidates/04_confidence_momentum.py:ConfidenceMomentumPort",
        "first_agreement.py:FirstAgreement",
    ],
)
def test_a_controller_file_gives_the_same_numbers_on_both_paths(
    real: ReplaySet, reference: str
) -> None:
    cls = load_controller_class(str(EXAMPLES / reference), trusted=True)
    for protocol in (ReferenceProtocol(seeds=5), SubsampleProtocol(draws=3, size=16)):
        controller = cls(0.7)
        lean = run_episodes(controller, real, protocol, vectorised=False)
        _same(lean, run_episodes(controller, real, protocol, vectorised=False, fast=False))


class _Crashes(Controller):
    name = "crashes"

    def __init__(self, beta: float = 0.5, at: int = 3) -> None:
        self.beta, self.at = beta, at

    def solve(self, session: Session) -> str | None:
        answer, branch, _ = session.probe_new()
        for _ in range(self.at):
            session.probe_more(branch)
        session.probe_more(branch + 5)  # not open: an illegal read
        return answer


class _Loops(_Crashes):
    def solve(self, session: Session) -> str | None:
        session.full_read()
        while True:
            try:
                session.probe_more(0)
            except Exception:  # swallows the step limit: it must keep raising
                if session.steps > 60:  # type: ignore[attr-defined]
                    raise


@pytest.mark.parametrize("cls", [_Crashes, _Loops])
def test_crash_reports_are_the_same_on_both_paths(real: ReplaySet, cls: type[_Crashes]) -> None:
    messages = []
    for fast in (True, False):
        with pytest.raises(ControllerError) as caught:
            run_episodes(
                cls(), real, ReferenceProtocol(seeds=2), vectorised=False, fast=fast, max_steps=50
            )
        messages.append(str(caught.value))
    assert messages[0] == messages[1]
    assert "on question 0 (replicate 0) at " in messages[0]
    assert __file__ in messages[0]
