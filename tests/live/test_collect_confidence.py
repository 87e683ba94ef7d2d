"""``autotts collect`` carries the probes' log-probabilities into the replay file, end to end:
a scripted server on loopback, the real command, the loader, a session and a built-in."""

from __future__ import annotations

import math
from pathlib import Path

from autotts.controllers.parallel_probe import ParallelProbe
from autotts.data.loading import load_replay
from autotts.env.episode import Episode
from autotts.env.session import Session
from tests.live.fake_completions import Script, fake_server
from tests.live.test_collect_limits import collect


def logprobs(generated: int) -> list[float]:
    """A probe's token log-probabilities: less sure early in a trajectory, a value per token."""
    return [-1.0 / (1 + generated / 100), -0.25]


def expected(k: int) -> float:
    """The confidence of probe ``k`` (cut at (k+1)·100 tokens): exp of the mean above."""
    values = logprobs((k + 1) * 100)
    return math.exp(sum(values) / len(values))


def test_a_collected_file_carries_confidences(tmp_path: Path) -> None:
    script = Script(length=450, ending="\\boxed{7}", probe="7}", probe_logprobs=logprobs)
    with fake_server(script) as url:
        got = collect(tmp_path, url, "--n", "2", "--delta", "100", "--template", "plain")
    item = got["document"][0]
    assert [b[0] for b in item["each_branch"]] == [["7"] * 4] * 2  # probes at 100..400
    # the replay file's optional key, one value per probe, as in the side file
    assert item["probe_logprobs"] == [b["probe_logprobs"] for b in got["side"][0]["branches"]]

    replay = load_replay(tmp_path / "out.json")
    assert replay.has_confidence
    question = replay.questions[0]
    assert question.confidence_lists is not None
    for row in question.confidence_lists:
        assert row == tuple(expected(k) for k in range(4))

    # a controller reads them through its session, one per probe it paid for
    session = Session(Episode(question, [1, 0]))
    _, slot, _ = session.probe_new()
    assert session.probe_confidence(slot) == expected(0)
    session.probe_more(slot)
    assert session.probe_confidence(slot) == expected(1)
    # and the built-in that uses them runs on the collected file
    assert (
        ParallelProbe(num_chains=2, T=2, confidence_weighted=True).solve(
            Session(Episode(question, [0, 1]))
        )
        == "7"
    )


def test_without_logprobs_the_file_is_as_before(tmp_path: Path) -> None:
    script = Script(length=250, ending="\\boxed{7}", probe_logprobs=logprobs)
    with fake_server(script) as url:
        got = collect(
            tmp_path, url, "--n", "1", "--delta", "100", "--template", "plain", "--no-logprobs"
        )
    assert "probe_logprobs" not in got["document"][0]
    assert not load_replay(tmp_path / "out.json").has_confidence


def test_a_server_that_gives_no_logprobs_writes_no_key(tmp_path: Path) -> None:
    with fake_server(Script(length=250, ending="\\boxed{7}")) as url:
        got = collect(tmp_path, url, "--n", "1", "--delta", "100", "--template", "plain")
    assert got["side"][0]["branches"][0]["probe_logprobs"] == [None, None]
    assert "probe_logprobs" not in got["document"][0]
