"""Exported winner files, selection and the paired bootstrap: fast, offline tests."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from autotts.controllers.composable import BetaSchedule, Composed
from autotts.controllers.registry import ControllerSpec, build, load_controller_class
from autotts.discovery.optimizer.driver import select_trial
from autotts.discovery.optimizer.export import check_roundtrip, render_controller
from autotts.discovery.optimizer.heldout import sc64_share
from autotts.discovery.optimizer.objective import active_parts
from autotts.discovery.optimizer.space import cmc_start, schedule_from_params
from autotts.evaluation.paired_gain import paired_gain
from autotts.evaluation.protocols import ReferenceProtocol
from autotts.evaluation.runner import EpisodeTable, run_episodes
from autotts.sandbox import read_candidate

from ...controllers.random_replay import random_replay

SCHEDULE = BetaSchedule(
    parts={"widen": "trend", "prune": "latest", "stop": "momentum", "vote": "short",
           "depth": "burst", "give_up": "futile", "confidence": "weighted"},
    bounds={"n_init": (2.0, 7.0), "max_branches": (10.0, 40.0), "conf_thresh": (0.7, 0.95),
            "ema_alpha": (0.3, 0.9), "short_power": (0.8, 2.0), "patience": (3.0, 9.0),
            "futile_after": (6.0, 12.0), "futile_conf": (0.6, 0.8)},
    power=1.7,
)  # fmt: skip


def test_exported_file_is_a_plain_controller_equal_to_the_schedule(tmp_path: Path) -> None:
    source = render_controller(SCHEDULE, "opt-test", {"seed": 3, "objective": "test"})
    assert "optimizer" not in [line.split()[1] for line in source.splitlines()
                               if line.startswith(("import ", "from "))]  # fmt: skip
    assert "autotts.discovery" not in source and "composable" not in source.split('"""', 2)[2]
    path = tmp_path / "winner.py"
    path.write_text(source)
    assert read_candidate(f"{path}:OptTest").audit() == []  # passes the source audit
    cls = load_controller_class(f"{path}:OptTest", trusted=True)
    assert check_roundtrip(SCHEDULE, lambda b: cls(b).knobs)
    replay = random_replay(5, questions=3, branches=16, alphabet=3)
    protocol = ReferenceProtocol(seeds=4)
    for beta in (0.0, 0.6, 1.0):  # the file untrusted: in the sandbox, reads forwarded
        plain = run_episodes(build(ControllerSpec(f"{path}:OptTest", beta)), replay, protocol)
        fast = run_episodes(Composed(SCHEDULE, beta), replay, protocol)
        assert (plain.correct == fast.correct).all() and (plain.cost == fast.cost).all()


def test_cmc_start_is_cmc_shaped_and_round_trips() -> None:
    schedule = schedule_from_params(cmc_start())
    knobs = schedule.knobs(0.5)
    assert (knobs.widen, knobs.prune, knobs.stop, knobs.vote) == (
        "trend", "pool", "momentum", "completed"
    )  # fmt: skip
    assert (knobs.n_init, knobs.max_branches, knobs.conf_thresh) == (5, 34, 0.91)
    assert active_parts(schedule) == 3


@dataclass
class _Trial:
    number: int
    user_attrs: dict[str, Any] = field(default_factory=dict)


def test_selection_takes_best_validation_among_top_fit() -> None:
    trials = [
        _Trial(0, {"fit_objective": 2.0, "validation": -1.0}),
        _Trial(1, {"fit_objective": 1.5, "validation": 0.5}),
        _Trial(2, {"fit_objective": 0.1, "validation": 9.0}),  # outside the top 2 by fit
    ]
    assert select_trial(trials, top_k=2) is trials[1]
    assert select_trial(trials, top_k=3) is trials[2]
    assert select_trial([], top_k=3) is None


def _table(correct: np.ndarray, cost: float) -> EpisodeTable:
    shape = correct.shape
    return EpisodeTable(correct.astype(bool), np.full(shape, cost), np.full(shape, cost))


def test_paired_bootstrap_gain() -> None:
    rng = np.random.default_rng(1)
    base = rng.random((20, 30)) < 0.5
    same = paired_gain([_table(base, 1.0)], [_table(base, 1.0)], None, draws=500).to_dict()
    assert same["gain"] == 0.0 and same["ci95"] == [0.0, 0.0]
    better = base.copy()
    better[:, :10] = True  # ten questions always right
    result = paired_gain([_table(better, 1.0)], [_table(base, 1.0)], None, draws=2000).to_dict()
    expected = 100.0 * (better.mean() - base.mean())
    assert result["gain"] == pytest.approx(expected)
    assert 0.0 < result["ci95"][0] < expected < result["ci95"][1]


def test_sc64_share_interpolates() -> None:
    sc64 = [_table(np.ones((2, 4)) * (np.arange(4) < 3), 1000.0)]  # 75 % at 1000 tokens
    curve = [
        (0.0, [_table(np.ones((2, 4)) * (np.arange(4) < 2), 100.0)]),  # 50 %
        (1.0, [_table(np.ones((2, 4)), 300.0)]),  # 100 %
    ]
    assert sc64_share(curve, sc64) == pytest.approx(0.2)
