"""opt-winner: a controller found by autotts' optimiser (composed parts, β schedule).

Runs without the search machinery. Provenance:

    {
      "rule": "among the top_k trials by fit objective (fit questions of the search set), the best by validation objective (held-back questions of the search set)",
      "search": {
        "betas": [
          0.0,
          0.25,
          0.5,
          0.75,
          1.0
        ],
        "part_penalty": 0.1,
        "patience": 400,
        "sampler": "tpe",
        "search_seeds": 10,
        "seed": 1,
        "split_seed": 0,
        "time_budget": 2700.0,
        "top_k": 10,
        "trials_per_round": 25,
        "validation_questions": 10,
        "workers": 2
      },
      "search_files": [
        {
          "benchmark": "aime24",
          "model": "Qwen3-0.6B",
          "sha256": "6b4297405b494c84afb05b337af315c617513eb2580ed327ca7040b760988a7d",
          "store": "../shared/data/replay"
        },
        {
          "benchmark": "aime24",
          "model": "Qwen3-1.7B",
          "sha256": "5d6c9a63e26c7cf60181c53b67adc7017db146bf2ff1e3b9784673cb97313ad1",
          "store": "../shared/data/replay"
        },
        {
          "benchmark": "aime24",
          "model": "Qwen3-4B",
          "sha256": "d99ce8711c60605b7555a7fc6e66cc5ae0abe7ce6b36bf4e712802d26aa7ffdd",
          "store": "../shared/data/replay"
        },
        {
          "benchmark": "aime24",
          "model": "Qwen3-8B",
          "sha256": "be725bdacc64712088d5c947b9b869471ad659c8465c3e5b6e9ff5191bfd0128",
          "store": "../shared/data/replay"
        }
      ],
      "started": "2026-11-29T12:14:19+00:00",
      "trial": 288,
      "trials_finished": 490
    }

The parts and the order they act in each round: see PartsController below.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

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


class PartsController(Controller):
    """A controller whose behaviour at β is the :class:`Knobs` that ``knobs_at(β)`` returns.

    Subclasses define :meth:`knobs_at` (the β schedule); it must be monotone in spend.
    """

    name = "parts"

    def __init__(self, beta: float = 0.5) -> None:
        if not 0.0 <= float(beta) <= 1.0:
            raise ValueError(f"beta must be in [0, 1], got {beta}")
        self.beta = float(beta)
        self.knobs = self.knobs_at(self.beta)

    def knobs_at(self, beta: float) -> Knobs:
        """The β schedule: settings of every part at ``beta``."""
        return Knobs()

    def params(self) -> dict[str, Any]:
        return {"beta": self.beta, **asdict(self.knobs)}

    def solve(self, session: Session) -> str | None:
        k = self.knobs
        weights = length_weights(k.short_power) if k.vote == "short" else []
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
            if k.vote == "short" and answers:
                tally: dict[str, int] = {}
                for br in completed:
                    units = min(MAX_LENGTH_UNITS, int(br.spent // session.probe_freq))
                    tally[br.latest] = tally.get(br.latest, 0) + weights[units]
                best = max(tally.values())
                winner = next(a for a in answers if tally[a] == best)
            return winner, beta_confidence(top1, top2)

        def latest_majority() -> str | None:
            return majority([br.latest for br in branches if not br.dropped])

        def answer() -> str | None:
            if k.vote != "latest" and completed:
                return pool()[0]
            return latest_majority()

        window = open_branches(k.n_init)
        if not branches:
            return None
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
                    return answer()
            elif k.stop == "confidence":
                if warm and len(completed) >= 2 and conf > k.conf_thresh:
                    return answer()
            elif k.stop == "window":
                if window and all(br.finished for br in window):
                    if len({br.latest for br in window}) == 1:
                        return window[0].latest
                    window = []
            elif k.stop == "stable":
                stable = stable + 1 if leader == prev else 0
                prev = leader
                if stable >= k.T_stable:
                    return answer()
            # 7. nothing left to read
            can_open = len(branches) < k.max_branches and session.can_branch
            if not any(br.live for br in branches) and not (k.widen == "always" and can_open):
                break
            # 8. widen
            if k.widen == "always" or (
                k.widen == "trend"
                and rnd >= max(1, k.warm_up // 2)
                and delta <= k.trend_thresh
                and ema < k.conf_thresh
            ):
                window += open_branches(k.widen_burst)
        return answer()

class OptWinner(PartsController):
    """opt-winner: the parts and β schedule the search chose."""

    name = "opt-winner"

    def knobs_at(self, beta: float) -> Knobs:
        b = min(1.0, max(0.0, float(beta)))
        p = 0.8234916597762388
        return Knobs(
            depth="burst",
            prune="pool",
            stop="confidence",
            vote="completed",
            widen="always",
            n_init=round(12.0 + 4.0 * b**p),
            max_branches=round(9.0 + 49.0 * b**p),
            widen_burst=round(1.0 + 3.0 * b**p),
            trend_thresh=round(-0.03753563793612726 + 0.1247833690587086 * b**p, 4),
            burst_aligned=round(2.0 + 2.0 * b**p),
            patience=round(11.0 + 3.0 * b**p),
            warm_up=round(4.0 + 1.0 * b**p),
            T_ema=round(2.0 + 4.0 * b**p),
            ema_alpha=round(0.9409579077910759 - 0.21159761052297865 * b**p, 4),
            conf_thresh=round(0.9413482788241783 + 0.01583225909436592 * b**p, 4),
            delta_slack=round(0.00959813496530729 - 0.0007137419748799011 * b**p, 4),
            min_complete=round(6.0 + 1.0 * b**p),
            T_stable=round(9.0 + 5.0 * b**p),
            short_power=0.0329,
        )
