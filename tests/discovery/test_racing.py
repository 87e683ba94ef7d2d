"""Racing: the stopping rule, a dominated candidate stopped early, a good one evaluated
fully with the numbers of an unraced run, and a raced discovery run on disk."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from autotts.discovery.api import discover
from autotts.discovery.curves import aggregate, best_point, curve_jobs, evaluate_curves
from autotts.discovery.racing import MIN_SEEDS, RULE, Z, race_curves, upper_bounds
from autotts.discovery.records import RoundEntry
from autotts.discovery.selection import select
from autotts.evaluation.executors import run_jobs
from autotts.evaluation.jobs import DataRef, evaluate
from autotts.evaluation.protocols import ReferenceProtocol, ReplicateSlice
from tests.conftest import ROOT

REFS = [DataRef("synthetic", model, "aime24") for model in ("Synth-Small", "Synth-Large")]
SEEDS = 40


def _best(controller: str, betas: list[float]) -> float:
    points = evaluate_curves(curve_jobs(controller, REFS, betas, ReferenceProtocol(SEEDS)))
    best = best_point(aggregate(points))
    assert best is not None
    return float(best.accuracy)


def test_the_bound_is_exact_when_every_seed_is_seen() -> None:
    rng = np.random.default_rng(0)
    files = [rng.random((10, 7)) < 0.6, rng.random((10, 5)) < 0.3]
    exact = 100 * (files[0].mean() + files[1].mean()) / 2
    assert upper_bounds({0.5: files}, total=10)[0.5] == pytest.approx(exact)


def test_the_bound_follows_the_stated_formula() -> None:
    # one file, two questions, 4 of 10 seeds seen: k = 4 and 0 correct
    correct = np.zeros((4, 2), dtype=bool)
    correct[:, 0] = True
    n, total = 4, 10
    seen = 0.5
    p = np.array([5 / 6, 1 / 6])
    sd = math.sqrt(float((p * (1 - p)).sum()) / 4 * (1 / n + 1 / (total - n)))
    expected = 100 * (n / total * seen + (1 - n / total) * min(1.0, seen + Z * sd))
    assert upper_bounds({1.0: [correct]}, total=total)[1.0] == pytest.approx(expected)
    assert upper_bounds({1.0: [np.ones((4, 2), dtype=bool)]}, total=total)[1.0] == 100.0


@pytest.mark.parametrize("workers", [1, 2])
def test_a_dominated_candidate_stops_early(workers: int) -> None:
    incumbent = _best("cmc", [0.5, 1.0])
    jobs = curve_jobs("sc", REFS, [0.0], ReferenceProtocol(SEEDS))
    outcome = race_curves(jobs, incumbent, workers=workers)
    assert outcome.stopped and outcome.seeds_run == MIN_SEEDS < SEEDS
    assert max(outcome.bounds.values()) < incumbent
    # the rule was right: on every seed the candidate stays below the incumbent
    assert _best("sc", [0.0]) < incumbent
    # its recorded points are those of the seeds it ran, and say so
    for job, result in zip(jobs, outcome.results):
        partial = evaluate(
            type(job)(job.data, job.spec, ReplicateSlice(job.protocol, 0, MIN_SEEDS), job.label)
        )
        assert result.metrics == partial.metrics
        assert result.protocol["replicates"] == [0, MIN_SEEDS]


@pytest.mark.parametrize("workers", [1, 2])
def test_a_good_candidate_is_evaluated_fully_with_unraced_numbers(workers: int) -> None:
    incumbent = _best("sc", [0.0, 0.5])
    jobs = curve_jobs("cmc", REFS, [0.0, 0.5, 1.0], ReferenceProtocol(SEEDS))
    outcome = race_curves(jobs, incumbent, workers=workers)
    assert not outcome.stopped and outcome.seeds_run == SEEDS
    unraced = run_jobs(jobs)
    assert [r.to_dict() for r in outcome.results] == [r.to_dict() for r in unraced]
    for table, job in zip(outcome.tables, jobs):  # per episode, not only the summaries
        from autotts.controllers.registry import build
        from autotts.evaluation.jobs import load_data
        from autotts.evaluation.runner import run_episodes

        direct = run_episodes(build(job.spec), load_data(job.data), job.protocol)
        assert np.array_equal(table.correct, direct.correct)
        assert np.array_equal(table.cost, direct.cost)
        assert np.array_equal(table.sequential_cost, direct.sequential_cost)


WEAK = '''
from autotts import Controller, Session


class FirstProbe(Controller):
    """Answers what the first branch says at its first probe, whatever β."""

    name = "first-probe"

    def __init__(self, beta: float = 0.5) -> None:
        self.beta = beta

    def solve(self, session: Session) -> str | None:
        answer, _branch, _finished = session.probe_new()
        return answer
'''


def test_a_raced_discovery_records_the_rule_and_never_selects_a_stopped_round(
    tmp_path: Path,
) -> None:
    candidates = tmp_path / "candidates"
    candidates.mkdir()
    (candidates / "01_first_agreement.py").write_text(
        (ROOT / "examples" / "first_agreement.py").read_text()
    )
    (candidates / "02_first_probe.py").write_text(WEAK)
    out = tmp_path / "run"
    run = discover(
        out,
        proposer="scripted",
        data="synthetic",
        models=["Synth-Small", "Synth-Large"],
        betas=[0.5, 1.0],
        seeds=SEEDS,
        heldout_seeds=2,
        rounds=2,
        candidates=candidates,
        race=True,
    )
    settings = json.loads((out / "run.json").read_text())
    assert settings["race"]["rule"] == RULE
    index = [json.loads(line) for line in (out / "index.jsonl").read_text().splitlines()]
    assert [e["verdict"] for e in index] == ["accepted", "accepted"]
    first = json.loads((out / "rounds" / "0001" / "check.json").read_text())
    assert "race" not in first  # no incumbent yet: evaluated fully, unraced
    second = json.loads((out / "rounds" / "0002" / "check.json").read_text())
    assert second["race"]["stopped"] and second["race"]["seeds_run"] < SEEDS
    assert second["race"]["incumbent_accuracy"] == index[0]["best"]["accuracy"]
    assert index[1]["raced_out"] is True and "raced_out" not in index[0]
    chosen = select([RoundEntry.from_dict(e) for e in index])
    assert chosen is not None and chosen.round == 1
    selection = run.selection()
    assert selection is not None and selection.round == 1


def test_racing_needs_the_accuracy_rule() -> None:
    from autotts.discovery.settings import DiscoverySettings
    from autotts.errors import UsageError

    with pytest.raises(UsageError, match="--race"):
        DiscoverySettings(search=REFS, heldout=[], select="auc", race=True)
