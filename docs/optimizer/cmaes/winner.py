"""opt-winner: a controller found by autotts' optimiser (composed parts, β schedule).

Runs without the search machinery. Provenance:

    {
      "preregistered": {
        "builtin_rule": "the winner replaces the built-in only if, on the held-out files (100 seeds), at each of CMC's operating points (\u03b2=0.5, \u03b2=1.0) the \u03b2 the search set chose for that budget has mean tokens within CMC's and an accuracy gain whose paired-bootstrap 95 % lower bound is above zero (questions resampled jointly across models)",
        "early_stopping": "a unit stops when the trial the selection rule picks has not changed for 400 finished trials",
        "heldout": "evaluated once, after selection.json is written, for the winner only",
        "objective": "mean over CMC's \u03b2=0.5 and \u03b2=1.0 token budgets of the best accuracy within the budget minus CMC's (points); read by 25th percentile of the mean gain over 200 question resamples (questions drawn jointly across files; seeded by the search's seed); minus 0.1 per active part, minus 1 if tokens fall as \u03b2 grows",
        "pooled_rule": "the run's winner is the search pick with the highest objective (same reading) on all search questions at 100 replay seeds",
        "searches": [
          {
            "sampler_seed": 0,
            "search": 0,
            "split_seed": 0,
            "units": [
              "autotts-optimizer-s0-structure",
              "autotts-optimizer-s0-knobs"
            ]
          },
          {
            "sampler_seed": 1,
            "search": 1,
            "split_seed": 1,
            "units": [
              "autotts-optimizer-s1-structure",
              "autotts-optimizer-s1-knobs"
            ]
          },
          {
            "sampler_seed": 2,
            "search": 2,
            "split_seed": 2,
            "units": [
              "autotts-optimizer-s2-structure",
              "autotts-optimizer-s2-knobs"
            ]
          }
        ],
        "selection": "among the top_k trials by fit objective (fit questions of the search set), the best by validation objective (held-back questions of the search set)",
        "staged": "structure and knobs for 40 % of each search's time, then the picked structure held fixed and its knobs searched with the rest (started at the picked trial); the search's pick comes from the second stage"
      },
      "rule": "among the top_k trials by fit objective (fit questions of the search set), the best by validation objective (held-back questions of the search set)",
      "search": 0,
      "search_files": [
        {
          "benchmark": "aime24",
          "model": "Qwen3-0.6B",
          "sha256": "6b4297405b494c84afb05b337af315c617513eb2580ed327ca7040b760988a7d",
          "store": "/work/shared/data/replay"
        },
        {
          "benchmark": "aime24",
          "model": "Qwen3-1.7B",
          "sha256": "5d6c9a63e26c7cf60181c53b67adc7017db146bf2ff1e3b9784673cb97313ad1",
          "store": "/work/shared/data/replay"
        },
        {
          "benchmark": "aime24",
          "model": "Qwen3-4B",
          "sha256": "d99ce8711c60605b7555a7fc6e66cc5ae0abe7ce6b36bf4e712802d26aa7ffdd",
          "store": "/work/shared/data/replay"
        },
        {
          "benchmark": "aime24",
          "model": "Qwen3-8B",
          "sha256": "be725bdacc64712088d5c947b9b869471ad659c8465c3e5b6e9ff5191bfd0128",
          "store": "/work/shared/data/replay"
        }
      ],
      "settings": {
        "betas": [
          0.0,
          0.25,
          0.5,
          0.75,
          1.0
        ],
        "cv_folds": 5,
        "fixed_parts": {
          "depth": "burst",
          "prune": "pool",
          "stop": "momentum",
          "vote": "completed",
          "widen": "trend"
        },
        "metric": "two-point",
        "objective": "bootstrap",
        "part_penalty": 0.1,
        "patience": 400,
        "replay_seeds": 20,
        "sampler": "cmaes",
        "search_seeds": 3,
        "seed": 0,
        "split_seed": null,
        "staged": true,
        "structure_share": 0.4,
        "time_budget": 2700.0,
        "top_k": 10,
        "trials_per_round": 25,
        "validation_questions": 10,
        "workers": 2
      },
      "started": "2026-12-07T21:44:08+00:00",
      "trial": 0,
      "trials_finished": 4674
    }

The parts and the order they act in each round: see PartsController below.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import TYPE_CHECKING, Any

from autotts import Controller, Session, beta_confidence, majority, vote_stats

__all__ = ["Knobs", "PartsController", "length_weights"]

#: Lengths (in probe intervals) beyond this share the last weight.
MAX_LENGTH_UNITS = 400


def length_weights(power: float) -> list[int]:
    """Integer vote weight of a branch ``k`` probe intervals long, for ``k`` = 0 … MAX.

    Integers keep weighted tallies exact, so any implementation breaks ties alike.
    """
    return [max(1, round(65536.0 * (1.0 + k) ** -power)) for k in range(MAX_LENGTH_UNITS + 1)]


@dataclass(frozen=True)
class Knobs:
    """Every setting of a composed controller at one β (parts and their numbers)."""

    widen: str = "trend"  # never | trend | always
    depth: str = "burst"  # burst | full
    prune: str = "pool"  # never | pool | latest
    stop: str = "momentum"  # never | momentum | confidence | window | stable
    vote: str = "completed"  # completed | short | latest
    give_up: str = "never"  # never | futile
    confidence: str = "counts"  # counts | weighted
    n_init: int = 2
    max_branches: int = 64
    widen_burst: int = 1
    trend_thresh: float = 0.04
    burst_aligned: int = 1
    burst_other: int = 1
    patience: int = 3
    warm_up: int = 2
    T_ema: int = 2
    ema_alpha: float = 0.7
    conf_thresh: float = 0.85
    delta_slack: float = 0.04
    min_complete: int = 2
    T_stable: int = 40
    short_power: float = 0.0
    futile_after: int = 64
    futile_conf: float = 0.5
    max_rounds: int = 500


class _Branch:
    __slots__ = ("disagree", "dropped", "finished", "index", "latest", "probes", "spent")

    def __init__(self, index: int, latest: str, finished: bool, spent: float) -> None:
        self.index = index
        self.latest = latest
        self.finished = finished
        self.dropped = False
        self.probes = 0
        self.disagree = 0
        self.spent = spent  # tokens this branch has cost so far

    @property
    def live(self) -> bool:
        return not (self.finished or self.dropped)


#: Bounds of a knob set explicitly (``-p n_init=0``); knobs not listed take any number.
#: Below them a controller does nothing useful or breaks: n_init/max_branches = 0 open
#: no branch (no answer at 0 tokens), T_ema = 0 keeps no EMA history, a negative burst
#: reads a negative number of steps.
KNOB_LIMITS: dict[str, tuple[float, float | None]] = {
    "n_init": (1, None),
    "max_branches": (1, None),
    "widen_burst": (0, None),
    "burst_aligned": (1, None),
    "burst_other": (0, None),
    "patience": (0, None),
    "warm_up": (0, None),
    "T_ema": (1, None),
    "ema_alpha": (0, 1),
    "conf_thresh": (0, 1),
    "delta_slack": (0, None),
    "min_complete": (0, None),
    "T_stable": (1, None),
    "short_power": (0, None),
    "futile_after": (1, None),
    "futile_conf": (0, 1),
    "max_rounds": (1, None),
}

#: The parts each slot may hold.
PART_NAMES: dict[str, tuple[str, ...]] = {
    "widen": ("never", "trend", "always"),
    "depth": ("burst", "full"),
    "prune": ("never", "pool", "latest"),
    "stop": ("never", "momentum", "confidence", "window", "stable"),
    "vote": ("completed", "short", "latest"),
    "give_up": ("never", "futile"),
    "confidence": ("counts", "weighted"),
}


def _check_knob(controller: str, key: str, value: Any) -> None:
    if key in PART_NAMES:
        if value not in PART_NAMES[key]:
            raise UnknownName(f"{key} part of {controller}", str(value), PART_NAMES[key])
        return
    low, high = KNOB_LIMITS.get(key, (None, None))
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise UsageError(f"{controller}: {key} must be a number, got {value!r}")
    if (low is not None and value < low) or (high is not None and value > high):
        bound = f"in [{low}, {high}]" if high is not None else f">= {low}"
        raise UsageError(f"{controller}: {key} must be {bound}, got {value!r}")


class PartsController(Controller):
    """A controller whose behaviour at β is the :class:`Knobs` that ``knobs_at(β)`` returns.

    Subclasses define :meth:`knobs_at` (the β schedule); it must be monotone in spend.
    """

    name = "parts"

    def __init__(self, beta: float = 0.5, **settings: Any) -> None:
        """β sets every knob through :meth:`knobs_at`; ``settings`` (any field of
        :class:`Knobs`, e.g. ``n_init=3``) override single ones afterwards."""
        if not 0.0 <= float(beta) <= 1.0:
            raise ValueError(f"beta must be in [0, 1], got {beta}")
        self.beta = float(beta)
        knobs = self.knobs_at(self.beta)
        names = [f.name for f in fields(Knobs)]
        for key, value in settings.items():
            if key not in names:
                raise UnknownName(f"setting of {self.name}", key, names)
            _check_knob(self.name, key, value)
        self.knobs = replace(knobs, **settings) if settings else knobs

    def knobs_at(self, beta: float) -> Knobs:
        """The β schedule: settings of every part at ``beta``."""
        return Knobs()

    def params(self) -> dict[str, Any]:
        return {"beta": self.beta, **asdict(self.knobs)}

    def solve(self, session: Session) -> str | None:
        k = self.knobs
        weighted = k.vote == "short" or k.confidence == "weighted"
        weights = length_weights(k.short_power) if weighted else []
        branches: list[_Branch] = []
        completed: list[_Branch] = []  # in the order they finished

        def open_branches(count: int) -> list[_Branch]:
            opened: list[_Branch] = []
            for _ in range(count):
                if len(branches) >= k.max_branches or not session.can_branch:
                    break
                before = session.tokens_used
                if k.depth == "full":
                    answer = session.full_read()
                    slot, finished = session.branches_opened - 1, True
                else:
                    answer, slot, finished = session.probe_new()
                br = _Branch(slot, answer, finished, session.tokens_used - before)
                branches.append(br)
                opened.append(br)
                if finished:
                    completed.append(br)
            return opened

        def pool() -> tuple[str | None, float]:
            answers = [br.latest for br in completed]
            winner, top1, top2 = vote_stats(answers)
            if weights and answers:
                tally: dict[str, int] = {}
                for br in completed:
                    units = min(MAX_LENGTH_UNITS, int(br.spent // session.probe_freq))
                    tally[br.latest] = tally.get(br.latest, 0) + weights[units]
                if k.vote == "short":
                    best = max(tally.values())
                    winner = next(a for a in answers if tally[a] == best)
                if k.confidence == "weighted":
                    top = sorted(tally.values())
                    w1, w2, total, n = (
                        top[-1],
                        top[-2] if len(top) > 1 else 0,
                        sum(top),
                        len(answers),
                    )
                    top1 = (2 * n * w1 + total) // (2 * total)
                    top2 = (2 * n * w2 + total) // (2 * total)
            return winner, beta_confidence(top1, top2)

        def latest_majority() -> str | None:
            return majority([br.latest for br in branches if not br.dropped])

        def answer() -> str | None:
            if k.vote != "latest" and completed:
                return pool()[0]
            return latest_majority()

        def finish(result: str | None, reason: str, why: str) -> str | None:
            if session.tracing:  # one finish step on every return path, with its values
                said = f"answer {result!r}" if result is not None else "answer none"
                session.trace(
                    "finish",
                    goal="return final answer",
                    output={"answer": result, "stop_reason": reason},
                    decision=f"{said}: {why}",
                )
            return result

        window = open_branches(k.n_init)
        if not branches:
            return finish(None, "no branch", "0 branches could be opened")
        stop_reason, why = "round limit", f"{k.max_rounds} rounds done"
        ema, history = 0.0, []
        stable, prev = 0, None
        for rnd in range(k.max_rounds):
            warm = rnd >= k.warm_up
            # 1. pool confidence, smoothed
            winner, conf = pool()
            ema = (1.0 - k.ema_alpha) * ema + k.ema_alpha * conf
            history.append(ema)
            del history[: -k.T_ema]
            # 2. drop branches that keep disagreeing with the pool's winner
            if k.prune == "pool" and warm and winner is not None:
                live = [br for br in branches if br.live]
                for br in live:
                    br.disagree = br.disagree + 1 if br.latest != winner else 0
                stale = sorted(
                    (br for br in live if br.disagree >= k.patience), key=lambda br: -br.disagree
                )
                for br in stale[: max(0, len(live) - 2)]:
                    br.dropped = True
            # 3. depth
            for br in sorted((br for br in branches if br.live), key=lambda br: -br.probes):
                aligned = warm and winner is not None and br.latest == winner
                for _ in range(k.burst_aligned if aligned else k.burst_other):
                    before = session.tokens_used
                    br.latest, br.finished = session.probe_more(br.index)
                    br.spent += session.tokens_used - before
                    br.probes += 1
                    if br.finished:
                        completed.append(br)
                        break
            # 4. re-vote with the round's evidence
            winner, conf = pool()
            ema = (1.0 - k.ema_alpha) * ema + k.ema_alpha * conf
            history[-1] = ema
            delta = history[-1] - history[0] if len(history) >= 2 else 0.0
            # 5. drop branches that keep disagreeing with the latest answers' majority
            leader = latest_majority()
            if k.prune == "latest" and warm:
                active = [br for br in branches if not br.dropped]
                if len(active) > 1:
                    for br in active:
                        if not br.finished:
                            br.disagree = br.disagree + 1 if br.latest != leader else 0
                    for br in active:
                        if not br.finished and br.disagree >= k.patience:
                            br.dropped = True
                    leader = latest_majority()
            # 6. stop
            if k.stop == "momentum":
                if (
                    warm
                    and len(completed) >= k.min_complete
                    and ema >= k.conf_thresh
                    and delta >= -k.delta_slack
                ):
                    return finish(
                        answer(),
                        "confident",
                        f"EMA {ema:.3f} >= {k.conf_thresh}, Δ {delta:+.3f} >= "
                        f"{-k.delta_slack}, {len(completed)} complete >= {k.min_complete}",
                    )
            elif k.stop == "confidence":
                if warm and len(completed) >= 2 and conf > k.conf_thresh:
                    return finish(
                        answer(),
                        "confident",
                        f"confidence {conf:.3f} > {k.conf_thresh}, {len(completed)} complete",
                    )
            elif k.stop == "window":
                if window and all(br.finished for br in window):
                    if len({br.latest for br in window}) == 1:
                        return finish(
                            window[0].latest,
                            "unanimous window",
                            f"all {len(window)} branches of the window agree",
                        )
                    window = []
            elif k.stop == "stable":
                stable = stable + 1 if leader == prev else 0
                prev = leader
                if stable >= k.T_stable:
                    return finish(
                        answer(), "stable", f"leader unchanged for {stable} >= {k.T_stable} rounds"
                    )
            # 6b. give up on a question whose answers stay scattered
            if (
                k.give_up == "futile"
                and warm
                and len(branches) >= k.futile_after
                and conf < k.futile_conf
            ):
                return finish(
                    answer(),
                    "futile",
                    f"{len(branches)} branches open >= {k.futile_after}, confidence "
                    f"{conf:.3f} < {k.futile_conf}",
                )
            # 7. nothing left to read
            can_open = len(branches) < k.max_branches and session.can_branch
            if not any(br.live for br in branches) and not (k.widen == "always" and can_open):
                stop_reason = "nothing left to read"
                why = f"{len(branches)} branches opened, {len(completed)} finished"
                break
            # 8. widen
            if k.widen == "always" or (
                k.widen == "trend"
                and rnd >= max(1, k.warm_up // 2)
                and delta <= k.trend_thresh
                and ema < k.conf_thresh
            ):
                window += open_branches(k.widen_burst)
        return finish(answer(), stop_reason, why)

class OptWinner(PartsController):
    """opt-winner: the parts and β schedule the search chose."""

    name = "opt-winner"

    def knobs_at(self, beta: float) -> Knobs:
        b = min(1.0, max(0.0, float(beta)))
        p = 2.1575796536229483
        return Knobs(
            confidence="counts",
            depth="burst",
            give_up="never",
            prune="pool",
            stop="momentum",
            vote="completed",
            widen="trend",
            n_init=round(6.0 + 2.0 * b**p),
            max_branches=round(20.0 + 35.0 * b**p),
            widen_burst=round(2.0 + 2.0 * b**p),
            trend_thresh=round(0.023290894362575254 + 0.012446121345147415 * b**p, 4),
            burst_aligned=round(1.0 + 1.0 * b**p),
            patience=round(12.0 + 1.0 * b**p),
            warm_up=round(9.0 + 1.0 * b**p),
            T_ema=round(2.0 + 4.0 * b**p),
            ema_alpha=round(0.7704568276402695 - 0.3712849929197931 * b**p, 4),
            conf_thresh=round(0.9109257476619964 + 0.03335893589118655 * b**p, 4),
            delta_slack=round(0.09122694646639787 - 0.04811250480970722 * b**p, 4),
            min_complete=round(4.0 + 4.0 * b**p),
            T_stable=round(14.0 + 2.0 * b**p),
            short_power=0.1567,
            futile_after=round(38.0 + 11.0 * b**p),
            futile_conf=round(0.6449971403139279 - 0.14129087867311185 * b**p, 4),
        )
