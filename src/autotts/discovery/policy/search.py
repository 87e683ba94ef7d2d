"""Training the Beta policy, and the black-box searches it is compared with.

**Episodes.** The search files (AIME24 by default) under the reference protocol's
shuffle seeds form one batch, built once (:class:`SearchEpisodes`). A *draw* takes,
for every (file, question), one β uniform in [0, 1] and ``k`` distinct shuffle
seeds: ``files × questions × k`` episodes. Every method spends its budget in draws
of the same size, and the *episode evaluations* it spent are counted
(:attr:`SearchResult.episodes`): a comparison holds the count equal.

**Reward** of one episode at β: ``correct - price(β) · tokens / 100k``, with the
price falling geometrically from ``price_high`` at β = 0 to ``price_low`` at β = 1
(:class:`Reward`). One policy, with β among its features, thus learns the whole
accuracy-vs-tokens curve; β = 1 is the accuracy-first end.

**Methods.**

* ``reinforce``: the score-function gradient of the stochastic policy's expected
  reward, with a leave-one-out baseline (each episode's advantage is its reward
  minus the mean of the other ``k - 1`` episodes of its question at the same β),
  advantages scaled to unit spread, Adam ascent.
* ``tpe``, ``cmaes``: Optuna's samplers over the same weights (36 numbers in
  ``[-8, 8]``), each trial scored by the mean reward of the controller it exports
  (deterministic, :mod:`.plain`) on one draw. A black-box optimiser can score the
  deployed controller directly where the gradient needs the stochastic policy: each
  method optimises what it can.

All three search the same family with the same reward; only the optimiser differs.

**Selection (fixed before any held-out file is read).** Each method hands in
:data:`CANDIDATES` policies (REINFORCE: its last checkpoints; TPE / CMA-ES: its best
trials by their draw's score); every one replays as the exported controller (the
mean policy played deterministically: :mod:`.plain`) on the selection set
(every search file and question, shuffle seeds 0-3, β ∈ {0, 0.25, 0.5, 0.75, 1});
the highest mean reward wins (:data:`SELECTION_RULE`).
"""

from __future__ import annotations

import logging
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import numpy.typing as npt

from autotts.data.records import NO_ANSWER, ReplaySet
from autotts.discovery.policy.family import (
    ESTIMATORS,
    N_FEATURES,
    initial_theta,
    log_prob_grad,
)
from autotts.discovery.policy.rollout import Decisions, rollout
from autotts.env.batch import BatchOutcome, EpisodeBatch, merge_batches
from autotts.errors import UsageError
from autotts.evaluation.protocols import ReferenceProtocol

__all__ = [
    "CANDIDATES",
    "METHODS",
    "SELECTION_RULE",
    "Reward",
    "SearchEpisodes",
    "SearchResult",
    "black_box",
    "reinforce",
    "run_method",
    "select",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
METHODS = ("reinforce", "tpe", "cmaes")
#: policies each method hands to the selection
CANDIDATES = 5
SELECTION_SEEDS = 4
SELECTION_BETAS = (0.0, 0.25, 0.5, 0.75, 1.0)
SELECTION_RULE = (
    f"each method's {CANDIDATES} candidates (REINFORCE: its last {CANDIDATES} checkpoints; "
    f"TPE / CMA-ES: its {CANDIDATES} best trials by their draw's score) replay as exported on "
    f"every search file and question, shuffle seeds 0-{SELECTION_SEEDS - 1}, "
    f"β ∈ {{{', '.join(f'{b:g}' for b in SELECTION_BETAS)}}}; the highest mean reward wins"
)
#: bound of every rule weight the black-box samplers search
WEIGHT_LIMIT = 8.0
#: the search's progress is scored (not counted as search) this many times
MONITOR_POINTS = 12
Event = Callable[[dict[str, Any]], None]


@dataclass(frozen=True)
class Reward:
    """``correct - price(β) · tokens / 100k``; the price falls from ``high`` (β=0) to ``low``."""

    price_high: float = 0.02
    price_low: float = 0.001

    def __post_init__(self) -> None:
        if not 0 < self.price_low <= self.price_high:
            raise UsageError(
                f"token prices must satisfy 0 < low <= high, got {self.price_low}, "
                f"{self.price_high}"
            )

    def price(self, beta: FloatArray) -> FloatArray:
        out: FloatArray = self.price_high * (self.price_low / self.price_high) ** beta
        return out

    def of(self, correct: FloatArray, tokens: FloatArray, beta: FloatArray) -> FloatArray:
        out: FloatArray = correct - self.price(beta) * tokens / 100_000.0
        return out


class SearchEpisodes:
    """Every (file, shuffle seed, question) episode of the search files, as one batch.

    Episode ``(f, s, q)`` is row ``(f · seeds + s) · questions_f + q``; ``group`` is the
    (file, question) it belongs to.
    """

    def __init__(self, replays: Sequence[ReplaySet], seeds: int = 100) -> None:
        if not replays:
            raise UsageError("the policy search needs at least one search file")
        self.replays = list(replays)
        self.seeds = seeds
        protocol = ReferenceProtocol(seeds=seeds)
        parts, gold, group, seed_of = [], [], [], []
        first = 0
        for replay in self.replays:
            sizes = {q.n_branches for q in replay.questions}
            if len(sizes) != 1:
                raise UsageError(f"{replay.name}: questions differ in branches per question")
            n_q, n_b = len(replay), sizes.pop()
            orders = np.stack([protocol.orders(n_b, q) for q in range(n_q)], axis=1)
            batch, q_of = EpisodeBatch.replicated(replay, range(n_q), orders)
            parts.append(batch)
            gold.append(replay.gold_ids[q_of])
            group.append(first + q_of)
            seed_of.append(np.repeat(np.arange(seeds), n_q))
            first += n_q
        try:
            self.batch = merge_batches(parts)
        except ValueError as error:  # files of different pool sizes: the user's choice of data
            raise UsageError(str(error)) from None
        self.gold = np.concatenate(gold)
        self.group = np.concatenate(group)
        self.seed_of = np.concatenate(seed_of)
        self.n_groups = first
        # rows of group g at seed s: members[g, s]
        self.members = np.zeros((first, seeds), dtype=np.int64)
        self.members[self.group, self.seed_of] = np.arange(self.group.size)

    def subset(self, rows: IntArray) -> EpisodeBatch:
        b = self.batch
        return replace(
            b,
            question=b.question[rows],
            branches=b.branches[rows],
            probe_freq=b.probe_freq[rows],
            vocab=b.vocab[rows],
            final_vocab=b.final_vocab[rows],
        )

    def draw(self, rng: np.random.Generator, k: int) -> tuple[IntArray, FloatArray]:
        """Rows and β of one draw: per group one β and ``k`` seeds (group-major, ``k`` a row)."""
        if not 2 <= k <= self.seeds:
            raise UsageError(f"episodes per question and β must be in [2, {self.seeds}], got {k}")
        seeds = np.argsort(rng.random((self.n_groups, self.seeds)), axis=1)[:, :k]
        rows = self.members[np.arange(self.n_groups)[:, None], seeds].reshape(-1)
        beta = np.repeat(rng.random(self.n_groups), k)
        return rows, beta

    def draw_size(self, k: int) -> int:
        return self.n_groups * k

    def fixed(self, seeds: int, betas: Sequence[float]) -> tuple[IntArray, FloatArray]:
        """Every group at shuffle seeds ``0..seeds-1`` and every β of ``betas``."""
        base = self.members[:, : min(seeds, self.seeds)].reshape(-1)
        rows = np.tile(base, len(betas))
        beta = np.repeat(np.asarray(betas, dtype=np.float64), base.size)
        return rows, beta

    def play(
        self,
        rows: IntArray,
        beta: FloatArray,
        **how: Any,
    ) -> tuple[BatchOutcome, FloatArray]:
        """Replay ``rows`` at ``beta`` (``how``: :func:`rollout`'s mode); outcome and correct."""
        out = rollout(self.subset(rows), beta, **how)
        gold = self.gold[rows]
        correct = ((out.answer == gold) & (out.answer != NO_ANSWER)).astype(np.float64)
        return out, correct

    def score(
        self,
        theta: FloatArray,
        rows: IntArray,
        beta: FloatArray,
        reward: Reward,
        rng: np.random.Generator | None = None,
    ) -> float:
        """Mean reward of ``theta``: sampled with ``rng``, else as the exported controller."""
        out, correct = self.play(rows, beta, theta=theta, rng=rng)
        return float(reward.of(correct, out.cost, beta).mean())


@dataclass
class SearchResult:
    """One method's search: the candidates it hands in, what it spent, how it went."""

    method: str
    candidates: list[FloatArray]
    #: episode evaluations the search spent (selection and monitoring not included)
    episodes: int
    seconds: float
    #: (episodes spent so far, monitor-set reward of the method's current policy)
    progress: list[tuple[int, float]] = field(default_factory=list)
    theta: FloatArray | None = None


class _Monitor:
    """Scores a method's current policy every ``every`` episodes on a fixed small set.

    The set (every group, shuffle seeds 0-1, β ∈ {0, 0.5, 1}) and its episodes are
    the same for every method and not counted in a method's budget: they draw the
    learning curves only, and decide nothing.
    """

    def __init__(self, data: SearchEpisodes, reward: Reward, budget: int) -> None:
        self.data, self.reward = data, reward
        self.rows, self.beta = data.fixed(2, (0.0, 0.5, 1.0))
        self.every = max(1, budget // MONITOR_POINTS)
        self.next = 0
        self.points: list[tuple[int, float]] = []

    def __call__(self, spent: int, theta: FloatArray, force: bool = False) -> None:
        if spent >= self.next or force:
            self.points.append((spent, self.data.score(theta, self.rows, self.beta, self.reward)))
            self.next = spent + self.every


def reinforce(
    data: SearchEpisodes,
    reward: Reward,
    budget: int,
    *,
    k: int = 4,
    lr: float = 0.2,
    estimator: str = "beta",
    seed: int = 0,
    on_event: Event | None = None,
) -> SearchResult:
    """Score-function ascent on the stochastic policy's expected reward (see the module)."""
    if estimator not in ESTIMATORS:
        raise UsageError(f"unknown estimator {estimator!r} (one of {', '.join(ESTIMATORS)})")
    rng = np.random.default_rng(seed)
    started = time.monotonic()
    per_draw = data.draw_size(k)
    iterations = budget // per_draw
    if iterations < 1:
        raise UsageError(f"a budget of {budget} episodes is less than one draw ({per_draw})")
    theta = initial_theta()
    m = np.zeros_like(theta)
    v = np.zeros_like(theta)
    monitor = _Monitor(data, reward, budget)
    checkpoints: list[FloatArray] = []
    keep_from = iterations - CANDIDATES * max(1, iterations // (4 * CANDIDATES))
    spent = 0
    for it in range(iterations):
        monitor(spent, theta)
        rows, beta = data.draw(rng, k)
        decisions = Decisions.empty()
        out, correct = data.play(rows, beta, theta=theta, rng=rng, decisions=decisions)
        spent += rows.size
        r = reward.of(correct, out.cost, beta).reshape(-1, k)
        adv = (r - (r.sum(axis=1, keepdims=True) - r) / (k - 1)).reshape(-1)
        adv = adv / (adv.std() + 1e-8)
        grad = np.zeros_like(theta)
        for head in (0, 1):
            ep, phi, p, y = decisions.stacked(head)
            grad[head] = log_prob_grad(theta[head], phi, p, y, adv[ep], estimator)
        grad /= rows.size
        # Adam (ascent)
        m = 0.9 * m + 0.1 * grad
        v = 0.999 * v + 0.001 * grad**2
        step = lr * (m / (1 - 0.9 ** (it + 1))) / (np.sqrt(v / (1 - 0.999 ** (it + 1))) + 1e-8)
        theta = theta + step
        if it >= keep_from and (iterations - 1 - it) % max(1, iterations // (4 * CANDIDATES)) == 0:
            checkpoints.append(theta.copy())
        if on_event:
            on_event({"phase": "iteration", "method": "reinforce", "iteration": it,
                      "episodes": spent, "reward": float(r.mean())})  # fmt: skip
    monitor(spent, theta, force=True)
    candidates = checkpoints[-CANDIDATES:] or [theta.copy()]
    return SearchResult(
        "reinforce", candidates, spent, time.monotonic() - started, monitor.points, theta
    )


def black_box(
    data: SearchEpisodes,
    reward: Reward,
    budget: int,
    *,
    sampler: str,
    k: int = 4,
    seed: int = 0,
    on_event: Event | None = None,
) -> SearchResult:
    """TPE or CMA-ES (Optuna) over the rule weights, one draw per trial."""
    from autotts.extras import needs, require  # optional extra: Optuna, checked here

    require("optimize", f"--method {sampler}", "optuna")
    with needs("optimize", "the policy search"):
        import optuna

    optuna.logging.set_verbosity(logging.WARNING)
    rng = np.random.default_rng(seed)
    started = time.monotonic()
    per_draw = data.draw_size(k)
    trials = budget // per_draw
    if trials < 1:
        raise UsageError(f"a budget of {budget} episodes is less than one draw ({per_draw})")
    start = initial_theta()
    names = [f"w{h}{i}_{f}" for h in (0, 1) for i in (0, 1) for f in range(N_FEATURES)]
    x0 = dict(zip(names, (float(x) for x in start.reshape(-1))))
    if sampler == "tpe":
        chosen: Any = optuna.samplers.TPESampler(seed=seed, multivariate=True)
    elif sampler == "cmaes":
        require("optimize", "--method cmaes", "cmaes")
        # the same start as REINFORCE; a step of a quarter of the range. Optuna >= 4.9
        # marks x0 / sigma0 deprecated (removal planned for 6.0) without a replacement
        # that sets a start point, so the warning is silenced here.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            chosen = optuna.samplers.CmaEsSampler(
                x0=x0, sigma0=WEIGHT_LIMIT / 4, seed=seed, warn_independent_sampling=False
            )
    else:
        raise UsageError(f"unknown sampler {sampler!r} (tpe or cmaes)")
    study = optuna.create_study(direction="maximize", sampler=chosen)
    monitor = _Monitor(data, reward, budget)
    spent = 0
    best: tuple[float, FloatArray] | None = None

    def theta_of(params: dict[str, float]) -> FloatArray:
        return np.array([params[n] for n in names]).reshape(start.shape)

    for n in range(trials):
        monitor(spent, best[1] if best else start)
        trial = study.ask()
        params = {name: trial.suggest_float(name, -WEIGHT_LIMIT, WEIGHT_LIMIT) for name in names}
        rows, beta = data.draw(rng, k)
        value = data.score(theta_of(params), rows, beta, reward)
        spent += rows.size
        study.tell(trial, value)
        if best is None or value > best[0]:
            best = (value, theta_of(params))
        if on_event:
            on_event({"phase": "iteration", "method": sampler, "iteration": n,
                      "episodes": spent, "reward": value})  # fmt: skip
    assert best is not None
    monitor(spent, best[1], force=True)
    done = [t for t in study.trials if t.value is not None]
    top = sorted(done, key=lambda t: (-float(t.value or 0.0), t.number))[:CANDIDATES]
    return SearchResult(
        sampler,
        [theta_of(t.params) for t in top],
        spent,
        time.monotonic() - started,
        monitor.points,
    )


def run_method(
    method: str,
    data: SearchEpisodes,
    reward: Reward,
    budget: int,
    *,
    k: int = 4,
    seed: int = 0,
    estimator: str = "beta",
    lr: float = 0.2,
    on_event: Event | None = None,
) -> SearchResult:
    if method == "reinforce":
        return reinforce(
            data, reward, budget, k=k, lr=lr, estimator=estimator, seed=seed, on_event=on_event
        )
    if method in ("tpe", "cmaes"):
        return black_box(data, reward, budget, sampler=method, k=k, seed=seed, on_event=on_event)
    raise UsageError(f"unknown method {method!r} (one of {', '.join(METHODS)})")


def select(
    data: SearchEpisodes, reward: Reward, candidates: Sequence[FloatArray]
) -> tuple[FloatArray, list[float], int]:
    """The :data:`SELECTION_RULE`: the best candidate, every candidate's score, episodes used."""
    if not candidates:
        raise UsageError("no candidate to select from")
    rows, beta = data.fixed(SELECTION_SEEDS, SELECTION_BETAS)
    scores = [data.score(c, rows, beta, reward) for c in candidates]
    best = int(np.argmax(scores))
    return candidates[best], scores, rows.size * len(candidates)
