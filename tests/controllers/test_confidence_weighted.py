"""Parallel-Probe's ``confidence_weighted`` option: the published controller exactly on data
without confidences, different decisions on data with them."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest

from autotts.controllers.parallel_probe import ParallelProbe, pp_knobs
from autotts.controllers.registry import ControllerSpec, build
from autotts.controllers.voting import majority, weighted_majority
from autotts.data.loading import load_replay, parse_replay
from autotts.data.synthetic import synthesize_questions
from autotts.evaluation.protocols import ReferenceProtocol
from autotts.evaluation.runner import EpisodeTable, run_episodes
from tests.controllers.random_replay import random_replay

SMALL = {"num_chains": 12, "T": 6, "prune_patience": 3, "warm_up": 2}


def same(a: EpisodeTable, b: EpisodeTable) -> bool:
    return (
        np.array_equal(a.correct, b.correct)
        and np.array_equal(a.cost, b.cost)
        and np.array_equal(a.sequential_cost, b.sequential_cost)
    )


def test_weighted_majority_with_unit_weights_is_majority() -> None:
    rng = random.Random(0)
    for _ in range(2000):
        answers = [rng.choice("abcd") for _ in range(rng.randrange(0, 12))]
        assert weighted_majority(answers, [1.0] * len(answers)) == majority(answers)
    assert weighted_majority(["a", "b", "b"], [0.9, 0.3, 0.4]) == "a"
    assert weighted_majority(["a", "b"], [0.5, 0.5]) == "a"  # a tie: the first seen
    assert weighted_majority([], []) is None


def test_the_option_is_a_parameter_and_recorded_only_when_set() -> None:
    plain = build(ControllerSpec("parallel-probe"))
    assert "confidence_weighted" not in plain.params()  # results of the plain one unchanged
    weighted = build(ControllerSpec("parallel-probe", params={"confidence_weighted": True}))
    assert isinstance(weighted, ParallelProbe)
    assert weighted.params()["confidence_weighted"] is True
    assert weighted.vectorised() is None  # the batch kernel knows no confidences
    assert plain.vectorised() is not None
    with pytest.raises(ValueError, match="no composable parts"):
        pp_knobs(weighted)  # no part weighs a vote by confidence


@pytest.mark.parametrize("seed", range(3))
def test_without_confidences_it_decides_as_the_plain_controller(seed: int) -> None:
    replay = random_replay(seed, questions=5, branches=20)
    protocol = ReferenceProtocol(seeds=4)
    plain = run_episodes(ParallelProbe(**SMALL), replay, protocol)  # vectorised
    weighted = run_episodes(ParallelProbe(**SMALL, confidence_weighted=True), replay, protocol)
    assert same(plain, weighted)


def test_without_confidences_it_is_the_published_row(shared_replay_dir: Path) -> None:
    replay = load_replay(shared_replay_dir / "Qwen3-4B" / "aime24.json")
    protocol = ReferenceProtocol(seeds=2)
    plain = run_episodes(ParallelProbe(), replay, protocol)
    weighted = run_episodes(ParallelProbe(confidence_weighted=True), replay, protocol)
    assert same(plain, weighted)


def test_with_confidences_it_decides_differently() -> None:
    doc = synthesize_questions(questions=12, branches=32, seed=4, confidence=True)
    with_conf = parse_replay(doc, source="conf")
    without = parse_replay(
        [{k: v for k, v in item.items() if k != "probe_logprobs"} for item in doc], source="plain"
    )
    protocol = ReferenceProtocol(seeds=4)
    weighted = ParallelProbe(**SMALL, confidence_weighted=True)
    plain = run_episodes(ParallelProbe(**SMALL), with_conf, protocol)
    # on the same trajectories without confidences the option changes nothing ...
    assert same(plain, run_episodes(weighted, without, protocol))
    # ... and with them it changes decisions: when to stop (tokens) and what to answer
    on = run_episodes(weighted, with_conf, protocol)
    assert not np.array_equal(on.cost, plain.cost)
    changed = float(np.mean(on.cost != plain.cost))
    assert changed > 0.2, changed


def test_traced_runs_see_the_same_decisions() -> None:
    doc = synthesize_questions(questions=4, branches=16, seed=2, confidence=True)
    replay = parse_replay(doc, source="conf")
    protocol = ReferenceProtocol(seeds=2)
    weighted = ParallelProbe(**SMALL, confidence_weighted=True)
    records: list[object] = []
    traced = run_episodes(
        weighted, replay, protocol, trace_sink=lambda r, q, rec: records.append(rec)
    )
    assert same(traced, run_episodes(weighted, replay, protocol))
    assert same(traced, run_episodes(weighted, replay, protocol, fast=False))
    reads = [
        step
        for record in records
        for step in record.trace  # type: ignore[attr-defined]
        if step["event"] == "read"
    ]
    assert any("confidence" in step["output"] for step in reads)
