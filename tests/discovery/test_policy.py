"""The Beta-policy search: the policy's probabilities and gradients, the batch rollout
against the plain controller, training on synthetic data, the exported file in the
sandbox, and equal episode budgets in the comparison."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from scipy import stats

from autotts.checking import check_controller
from autotts.cli.main import main
from autotts.controllers.registry import ControllerSpec
from autotts.data.synthetic import synthetic_replay_sets, write_synthetic_store
from autotts.discovery.policy import search as search_module
from autotts.discovery.policy.export import policy_controller, render_policy_file
from autotts.discovery.policy.family import (
    N_FEATURES,
    concentrations,
    initial_theta,
    log_prob,
    log_prob_grad,
    mean_probability,
)
from autotts.discovery.policy.rollout import Decisions, rollout
from autotts.discovery.policy.search import (
    SELECTION_RULE,
    Reward,
    SearchEpisodes,
    run_method,
    select,
)
from autotts.evaluation.jobs import DataRef, EvalJob, evaluate, load_data
from autotts.evaluation.protocols import ReferenceProtocol
from autotts.evaluation.runner import run_episodes
from autotts.sandbox import read_candidate

from ..controllers.random_replay import random_replay


def _states(rng: np.random.Generator, n: int = 40) -> np.ndarray:
    phi = rng.random((n, N_FEATURES))
    phi[:, 0] = 1.0
    return phi


@pytest.mark.parametrize("seed", range(3))
def test_probabilities_are_valid_and_the_density_is_the_beta(seed: int) -> None:
    rng = np.random.default_rng(seed)
    head = rng.normal(scale=3.0, size=(2, N_FEATURES))
    phi = _states(rng)
    a, b = concentrations(head, phi)
    assert (a > 0).all() and (b > 0).all()
    m = mean_probability(head, phi)
    assert ((m > 0) & (m < 1)).all()
    assert np.allclose(m, a / (a + b), rtol=1e-12)
    p = rng.beta(a, b)
    assert ((p >= 0) & (p <= 1)).all()
    inside = (p > 1e-5) & (p < 1 - 1e-5)
    y = (rng.random(p.size) < p).astype(float)
    mine = log_prob(head, phi, p, y, "beta")
    assert np.allclose(mine[inside], stats.beta.logpdf(p, a, b)[inside], rtol=1e-9, atol=1e-9)
    bern = log_prob(head, phi, p, y, "bernoulli")
    assert np.allclose(np.exp(bern), np.where(y > 0.5, m, 1 - m))


@pytest.mark.parametrize("estimator", ["beta", "bernoulli"])
@pytest.mark.parametrize("seed", range(3))
def test_log_prob_gradient_matches_finite_differences(estimator: str, seed: int) -> None:
    rng = np.random.default_rng(seed)
    head = rng.normal(scale=1.5, size=(2, N_FEATURES))
    phi = _states(rng, 25)
    a, b = concentrations(head, phi)
    p = np.clip(rng.beta(a, b), 1e-3, 1 - 1e-3)
    y = (rng.random(p.size) < 0.5).astype(float)
    weight = rng.normal(size=p.size)
    grad = log_prob_grad(head, phi, p, y, weight, estimator)
    numeric = np.zeros_like(head)
    h = 1e-6
    for idx in np.ndindex(*head.shape):
        up, down = head.copy(), head.copy()
        up[idx] += h
        down[idx] -= h
        diff = log_prob(up, phi, p, y, estimator) - log_prob(down, phi, p, y, estimator)
        numeric[idx] = weight @ diff / (2 * h)
    assert np.allclose(grad, numeric, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("seed", range(4))
def test_batch_rollout_equals_the_plain_controller(seed: int) -> None:
    rng = np.random.default_rng(seed)
    # tiny alphabets (ties), probe lists of 0..12, few branches (the pool runs out)
    replay = random_replay(seed, questions=5, branches=20, alphabet=3)
    theta = rng.normal(scale=2.0, size=(2, 2, N_FEATURES))
    cls = policy_controller(theta)
    for beta in (0.0, 0.4, 1.0):
        fast = run_episodes(cls(beta), replay, ReferenceProtocol(seeds=3))
        plain = run_episodes(cls(beta), replay, ReferenceProtocol(seeds=3), vectorised=False)
        assert (fast.correct == plain.correct).all()
        assert (fast.cost == plain.cost).all()
        assert (fast.sequential_cost == plain.sequential_cost).all()


def test_sampled_rollout_records_every_decision() -> None:
    data = SearchEpisodes(synthetic_replay_sets()[:1], seeds=4)
    rows, beta = data.draw(np.random.default_rng(0), 2)
    decisions = Decisions.empty()
    rollout(data.subset(rows), beta, initial_theta(), rng=np.random.default_rng(1),
            decisions=decisions)  # fmt: skip
    ep0, phi0, p0, y0 = decisions.stacked(0)
    ep1, _, p1, _ = decisions.stacked(1)
    # one stop decision per step of every episode, a branch decision on every step it went on
    assert set(ep0.tolist()) == set(range(rows.size))
    assert ep1.size == ep0.size - int(y0.sum()) or ep1.size < ep0.size
    assert phi0.shape == (ep0.size, N_FEATURES) and ((p0 >= 0) & (p0 <= 1)).all()
    assert ((p1 >= 0) & (p1 <= 1)).all()


def _synthetic(seeds: int = 6) -> SearchEpisodes:
    return SearchEpisodes([r for r in synthetic_replay_sets() if r.benchmark == "aime24"], seeds)


def test_training_improves_the_reward_on_synthetic_data() -> None:
    data = _synthetic()
    reward = Reward()
    budget = 30 * data.draw_size(2)
    result = run_method("reinforce", data, reward, budget, k=2, seed=0)
    _, scores, _ = select(data, reward, result.candidates)
    _, start_scores, _ = select(data, reward, [initial_theta()])
    assert max(scores) > start_scores[0] + 0.02, (scores, start_scores)
    assert result.progress[-1][1] > result.progress[0][1]


def test_methods_spend_the_same_episode_evaluations(monkeypatch: pytest.MonkeyPatch) -> None:
    data = _synthetic(seeds=4)
    played: dict[str, int] = {}
    real_play = SearchEpisodes.play
    current = {"method": ""}

    def counting(self: SearchEpisodes, rows: Any, beta: Any, **how: Any) -> Any:
        played[current["method"]] = played.get(current["method"], 0) + rows.size
        return real_play(self, rows, beta, **how)

    monkeypatch.setattr(SearchEpisodes, "play", counting)
    # the monitor's episodes draw the learning curves and are not part of a budget
    monkeypatch.setattr(search_module, "MONITOR_POINTS", 1)
    monkeypatch.setattr(search_module._Monitor, "__call__", lambda *a, **k: None)
    budget = 5 * data.draw_size(2) + 7  # not a whole number of draws: each spends 5 draws
    spent: dict[str, int] = {}
    for method in ("reinforce", "tpe", "cmaes"):
        current["method"] = method
        result = run_method(method, data, Reward(), budget, k=2, seed=1)
        spent[method] = result.episodes
        assert len(result.candidates) >= 1
    assert spent == {m: 5 * data.draw_size(2) for m in spent}
    assert played == spent  # what each method says it spent is what it played


def test_exported_file_passes_the_check_and_plays_the_same_in_the_sandbox(
    tmp_path: Path,
) -> None:
    store = tmp_path / "store"
    write_synthetic_store(store, questions=6, branches=24, seed=3)
    ref = DataRef(str(store), "Synth-Small", "aime24")
    theta = initial_theta()
    theta[0, 0, 2] = 6.0  # stop when the finished answers agree ...
    theta[0, 1, 1] = 4.0  # ... less readily as β grows
    theta[1, 1, 4] = 6.0  # branch less as the episode widens
    source = render_policy_file(theta, "TrainedPolicy", "beta-policy-test", {"seed": 0})
    assert "autotts.discovery" not in source
    path = tmp_path / "policy.py"
    path.write_text(source)
    trusted = policy_controller(theta)
    for beta in (0.0, 0.5, 1.0):
        name = f"{path}:TrainedPolicy"
        sandboxed = evaluate(EvalJob(ref, ControllerSpec(name, beta), ReferenceProtocol(3)))
        spec = ControllerSpec(name, beta, trusted=True)
        inside = evaluate(EvalJob(ref, spec, ReferenceProtocol(3)))
        assert dataclasses.asdict(sandboxed.metrics) == dataclasses.asdict(inside.metrics)
        table = run_episodes(trusted(beta), load_data(ref), ReferenceProtocol(3))  # batch path
        assert sandboxed.metrics.accuracy == round(100 * table.correct.mean(), 2)
        assert sandboxed.metrics.tokens == pytest.approx(table.cost.mean(), rel=1e-12)
    report = check_controller(
        f"{path}:TrainedPolicy", [ref], betas=(0.0, 0.5, 1.0), seeds=2, audited_cells=2
    )
    assert report.verdict == "accepted", report.detail


def test_cli_trains_exports_and_reports_heldout(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out, exported = tmp_path / "run", tmp_path / "policy.py"
    args = ["policy-search", "--data", "synthetic", "--out", str(out), "--budget", "600",
            "--k", "2", "--export", str(exported), "--heldout-seeds", "2"]  # fmt: skip
    assert main(args) == 0
    printed = capsys.readouterr().out
    run = json.loads((out / "run.json").read_text())
    assert run["selection_rule"] == SELECTION_RULE
    assert run["search"] == ["Synth-Small/aime24", "Synth-Large/aime24"]
    policy = json.loads((out / "policy.json").read_text())
    assert policy["episodes"] == 600  # 5 draws of 2 files × 30 questions × 2
    held = json.loads((out / "heldout.json").read_text())
    assert [p["cmc_beta"] for p in held["operating_points"]] == [0.5, 1.0]
    for point in held["operating_points"]:  # the joint interval, the per-file one beside it
        assert point["ci95"][0] <= point["gain"] <= point["ci95"][1]
        assert point["ci95_per_file"][0] <= point["gain"] <= point["ci95_per_file"][1]
    assert "gain" in printed and "held-out" in printed
    assert read_candidate(f"{exported}:TrainedPolicy").audit() == []


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--method", "sgd"], "unknown method 'sgd'"),
        (["--budget", "10"], "less than one draw"),
        (["--price-high", "0.001", "--price-low", "0.01"], "token prices"),
    ],
)
def test_cli_bad_arguments_are_one_line_errors(
    extra: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["policy-search", "--data", "synthetic", "--out", str(tmp_path / "r"), "--no-heldout"]
    assert main([*args, *extra]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and message in err and "Traceback" not in err
