"""History cut to a context budget; prompts rendered from the package's templates."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from autotts.discovery.baseline_records import BaselinesFile
from autotts.discovery.history import OMITTED, cut_history, entry_size
from autotts.discovery.prompting import user_prompt
from autotts.discovery.proposers.base import ProposalContext


def _entry(n: int, accuracy: float) -> dict[str, Any]:
    return {
        "round": n,
        "name": f"cand{n}",
        "verdict": "accepted",
        "reason": None,
        "aggregate": [{"beta": 1.0, "accuracy": accuracy, "tokens": 1e5}],
        "points": [
            {"model": "M", "benchmark": "aime24", "beta": 1.0, "accuracy": accuracy, "tokens": 1e5}
        ],
        "code": f"# code of round {n}\n" + "x = 1\n" * 500,
        "digest": f"# Trace digest {n}\n" + "line\n" * 200,
        "summary": f"idea {n}",
        "check": {"verdict": "accepted", "detail": ""},
    }


# Rounds are numbered from 1, as on disk.
HISTORY = [_entry(1, 40.0), _entry(2, 60.0), _entry(3, 45.0), _entry(4, 50.0), _entry(5, 30.0)]


def test_cut_keeps_best_and_latest_whole_and_cuts_oldest_first() -> None:
    full = sum(entry_size(e) for e in HISTORY)
    cut = cut_history(HISTORY, full - 3000)
    assert cut[1]["code"] == HISTORY[1]["code"]  # best
    assert cut[4]["code"] == HISTORY[4]["code"]  # latest
    assert cut[0]["code"] == OMITTED and cut[0]["cut"]  # oldest other goes first
    assert cut[3]["code"] == HISTORY[3]["code"]  # enough was saved already
    assert sum(entry_size(e) for e in cut) <= full - 3000
    tiny = cut_history(HISTORY, 10)
    assert [e["code"] == OMITTED for e in tiny] == [True, False, True, True, False]
    assert all(not e["points"] for e in tiny if e.get("cut"))
    assert cut_history(HISTORY, 10**9) == HISTORY


def test_prompt_holds_guide_rules_baselines_and_history(tmp_path: Path) -> None:
    baselines = BaselinesFile.from_dict(
        {"methods": {"sc": {"aggregate": [{"beta": 0.0, "accuracy": 33.3, "tokens": 15000.0}]}}}
    )
    context = ProposalContext(6, 8, HISTORY, baselines, tmp_path)
    prompt = user_prompt(context, budget=20_000)
    assert prompt.startswith("# Round 6 of 8")
    assert "## The session" in prompt  # the API guide
    assert "## Rules of discovery" in prompt
    assert "class SelfConsistency" in prompt and "def cmc_schedule" in prompt
    assert "| 0 | 33.30 | 15.0k |" in prompt
    # latest first; cut rounds are marked
    assert prompt.index("Round 5: cand5") < prompt.index("Round 1: cand1")
    assert "[shortened]" in prompt and "# code of round 2" in prompt
    assert "exactly one ```python code block" in prompt
