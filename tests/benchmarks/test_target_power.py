"""The target-power model (``benchmarks/target_power.py``): its formula gives the textbook
values, and it reads each pick at the β its search chose."""

from __future__ import annotations

import json
from pathlib import Path
from types import ModuleType

import pytest

from tests.benchmarks.conftest import load_script


@pytest.fixture(scope="module")
def target_power() -> ModuleType:
    return load_script("target_power")


def test_power_is_the_normal_tail_and_80_percent_needs_no_more_questions(
    target_power: ModuleType,
) -> None:
    z95, z80 = target_power.Z95, target_power.Z80
    assert target_power.budget_power([(0.0, 1.0, -1.96)])[2] == pytest.approx(0.025, abs=1e-4)
    assert target_power.budget_power([(z95, 1.0, 0.0)])[2] == pytest.approx(0.5)
    gain, se, power, cleared, grow = target_power.budget_power(
        [(z95 + z80, 1.0, 0.9), (z95 + z80, 1.0, -0.1)]
    )
    assert (gain, se, cleared) == (pytest.approx(z95 + z80), 1.0, 1)
    assert power == pytest.approx(0.8, abs=1e-4) and grow == pytest.approx(1.0)
    # half the gain needs four times the questions
    assert target_power.budget_power([((z95 + z80) / 2, 1.0, 0.0)])[4] == pytest.approx(4.0)


def test_each_pick_is_read_at_the_beta_its_search_chose(
    target_power: ModuleType, tmp_path: Path
) -> None:
    def row(beta: float, gain: float, ci: list[float], chosen: bool) -> dict[str, object]:
        return {
            "beta": beta, "accuracy": 50.0, "tokens": 1.0, "within_budget": True,
            "search_choice": chosen, "gain": gain, "ci95": ci, "p_not_positive": 0.5,
            "ci95_per_file": ci,
        }  # fmt: skip

    budget = {
        "cmc_beta": 1.0,
        "cmc_accuracy": 50.0,
        "cmc_tokens": 2.0,
        "candidates": [row(0.5, 9.0, [8.0, 10.0], False), row(1.0, 0.5, [-0.48, 1.48], True)],
    }
    record = tmp_path / "heldout_picks.json"
    record.write_text(json.dumps({"picks": [{"gains": [budget]}]}), encoding="utf-8")
    [(gain, se, low)] = target_power.chosen_gains(record)[1.0]
    assert (gain, low) == (0.5, -0.48) and se == pytest.approx(1.96 / (2 * target_power.Z95))
