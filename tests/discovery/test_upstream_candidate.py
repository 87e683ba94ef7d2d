"""The upstream-format CMC file used by the scripted-search test behaves exactly like the
built-in CMC. (The discovery run itself loads it through the sandbox's upstream loader;
here a session is handed to its ``solve(question)`` directly, which is the same API.)"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from autotts.controllers.base import Controller
from autotts.controllers.registry import ControllerSpec, build
from autotts.env.session import Session
from autotts.evaluation.jobs import DataRef, load_data
from autotts.evaluation.protocols import ReferenceProtocol
from autotts.evaluation.runner import run_episodes
from tests.conftest import ROOT


def _upstream_class() -> type:
    path = ROOT / "examples" / "upstream" / "cmc_upstream.py"
    spec = importlib.util.spec_from_file_location("cmc_upstream_under_test", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    cls: type = module.ConfidenceMomentumController
    return cls


class _Upstream(Controller):
    name = "cmc-upstream"

    def __init__(self, beta: float) -> None:
        self.inner = _upstream_class()({"beta": beta})

    def solve(self, session: Session) -> str | None:
        answer: str | None = self.inner.solve(session)
        return answer


@pytest.mark.parametrize("beta", [0.0, 0.5, 1.0])
def test_upstream_cmc_equals_builtin_cmc(shared_replay_dir: Path, beta: float) -> None:
    replay = load_data(DataRef(str(shared_replay_dir), "Qwen3-1.7B", "aime24"))
    protocol = ReferenceProtocol(seeds=4)
    ours = run_episodes(_Upstream(beta), replay, protocol)
    builtin = run_episodes(build(ControllerSpec("cmc", beta)), replay, protocol, vectorised=False)
    assert np.array_equal(ours.correct, builtin.correct)
    assert np.array_equal(ours.cost, builtin.cost)
    assert np.array_equal(ours.sequential_cost, builtin.sequential_cost)
