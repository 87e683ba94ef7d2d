"""The vote-ceiling diagnostic (``benchmarks/vote_ceiling.py``): its weights are what its
docstring says, so the records in ``docs/optimizer/ceiling/`` mean what the page says."""

from __future__ import annotations

from types import ModuleType

import numpy as np
import pytest

from tests.benchmarks.conftest import load_script
from tests.helpers import make_replay


@pytest.fixture(scope="module")
def vote_ceiling() -> ModuleType:
    return load_script("vote_ceiling")


def test_the_settled_share_counts_probes_that_already_gave_the_final_answer(
    vote_ceiling: ModuleType,
) -> None:
    replay = make_replay([[(["a", "b", "b"], 1600, "b"), ([], 300, "a"), (["c", "c"], 1100, "a")]])
    share = vote_ceiling.settled_share(replay.questions[0])
    # (1 + agreeing probes) / (1 + probes): 3/4, no probes at all 1/1, none agreeing 1/3
    assert share.tolist() == pytest.approx([3 / 4, 1.0, 1 / 3])


def test_the_settled_weight_can_turn_a_vote_and_s_zero_leaves_the_length_vote(
    vote_ceiling: ModuleType,
) -> None:
    # two long branches that settled on "x" at once against three short ones for "y" that
    # changed their minds until the end: length alone (p = 2) picks "y"; a heavy settled
    # weight (s = 3) picks "x"
    settled = (["x", "x", "x", "x"], 2100, "x")
    wavering = (["z", "w", "z", "w"], 2100, "y")
    replay = make_replay([[settled, settled, wavering, wavering, wavering]], gold=["x"])
    by_length = vote_ceiling.vote_table(replay, 2.0, None, 1, seed=0)
    by_length_s0 = vote_ceiling.vote_table(replay, 2.0, None, 1, seed=0, settled_power=0.0)
    by_settled = vote_ceiling.vote_table(replay, 2.0, None, 1, seed=0, settled_power=3.0)
    assert not by_length.correct[0, 0]
    assert np.array_equal(by_length.correct, by_length_s0.correct)
    assert by_settled.correct[0, 0]
    assert by_settled.cost[0, 0] == 5 * 2100
