"""The replay model's reading of requests, without HTTP."""

from __future__ import annotations

import pytest

from autotts.errors import UsageError
from autotts.live.replay_model import ReplayModel
from tests.helpers import make_replay

# Branch 0: 3 probes, 1,403 tokens (< Δ·3: the reference overcharges); branch 1 ends
# past its last probe; branch 2 has an ERR final answer.
REPLAY = make_replay(
    [[(["a", "ERR", "b"], 1403, "b"), (["c"], 1800, "c"), ([], 300, "ERR")]],
    gold=["b"],
    texts=["How much is it?"],
)


def test_a_branch_walk_charges_what_the_reference_charges() -> None:
    model = ReplayModel([REPLAY], "M")
    prompt = "Q: How much is it?\n"
    texts, charged, probes = "", [], []
    while True:
        out = model.complete(prompt + texts, 500, seed=0)
        assert out["replay"] == {"question": 0, "branch": 0, "branch_tokens": 1403}
        texts += out["text"]
        charged.append(out["completion_tokens"])
        if out["finish_reason"] == "stop":
            break
        probe = model.complete(prompt + texts + " final: \\boxed{", 24, None)
        probes.append(probe["text"])
    assert charged == [500, 500, 500, 0]  # explore charges Δ per probe, then max(0, 1403-1500)
    assert probes == ["a}", "", "b}"]  # ERR comes back as nothing to parse
    assert texts.endswith(" \\boxed{b}")
    assert len(texts.split()) == 1500 + 1  # stand-in words, then the closing box


def test_to_end_costs_the_branch_length_and_samples_cycle() -> None:
    model = ReplayModel([REPLAY], "M")
    outs = [model.complete("How much is it?", None, None) for _ in range(4)]
    assert [o["replay"]["branch"] for o in outs] == [0, 1, 2, 0]
    assert [o["completion_tokens"] for o in outs[:3]] == [1403, 1800, 300]
    assert outs[2]["text"].count("\\boxed") == 0  # an ERR final has no box
    last = model.complete("How much is it?" + outs[1]["text"], 500, None)
    assert (last["text"], last["completion_tokens"]) == ("", 0)


def test_unknown_question_and_bad_max_tokens() -> None:
    model = ReplayModel([REPLAY], "M")
    with pytest.raises(UsageError, match="none of the stored questions"):
        model.complete("something else", 500, None)
    with pytest.raises(UsageError, match="max_tokens"):
        model.complete("How much is it?", 0, None)
