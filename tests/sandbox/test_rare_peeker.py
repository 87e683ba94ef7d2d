"""The look-ahead audit catches a controller that peeks on only a few percent of episodes."""

from __future__ import annotations

from pathlib import Path

from autotts.checking import DEFAULT_SEEDS, check_controller
from autotts.evaluation.jobs import DataRef, load_data
from autotts.evaluation.protocols import ReferenceProtocol
from tests.sandbox.rare_peeker import peeks

PEEKER = Path(__file__).parent / "rare_peeker.py"


def test_a_three_percent_peeker_is_caught(shared_replay_dir: Path) -> None:
    ref = DataRef(str(shared_replay_dir), "Qwen3-4B", "aime24")
    replay, protocol = load_data(ref), ReferenceProtocol(seeds=DEFAULT_SEEDS)
    pools = [
        [question.answer_strings[b][-1] for b in order]
        for q, question in enumerate(replay.questions)
        for order in protocol.orders(question.n_branches, q).tolist()
    ]
    share = sum(map(peeks, pools)) / len(pools)
    assert 0.01 <= share <= 0.06  # a few percent of the episodes the check plays

    report = check_controller(str(PEEKER), [ref])
    assert (report.verdict, report.reason) == ("rejected", "peeking"), report.detail
    assert "played differently" in report.detail
    assert [c["passed"] for c in report.checks] == [True, True, True, True, False]
