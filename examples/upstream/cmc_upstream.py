"""The Confidence Momentum Controller in the upstream file format.

Upstream controllers are plain classes built as ``Cls(config)`` with
``config["beta"]``, whose ``solve(question)`` reads branches through
``question.probe_new()``, ``question.probe_more(i)`` and
``question.get_new_branch_final_answer()``. Same algorithm as
``examples/candidates/04_confidence_momentum.py``.
"""

from collections import Counter

from scipy.special import betainc


def _confidence(answers):
    """Leader, and the Beta posterior probability that it holds a majority."""
    if not answers:
        return None, 0.0
    common = Counter(answers).most_common(2)
    top1 = common[0][1]
    top2 = common[1][1] if len(common) > 1 else 0
    return common[0][0], float(1 - betainc(top1 + 1, top2 + 1, 0.5))


def momentum_schedule(beta):
    """β → every setting; larger β is wider, deeper and slower to stop."""
    b = min(1.0, max(0.0, float(beta)))
    return {
        "n_init": max(2, round(2 + 6 * b)),
        "max_branches": min(64, round(4 + 60 * b)),
        "warm_up": max(2, round(2 + 8 * b)),
        "patience": max(3, round(3 + 9 * b)),
        "window": max(2, round(2 + 6 * b)),
        "alpha": round(0.70 - 0.40 * b, 4),
        "threshold": round(0.85 + 0.12 * b, 4),
        "slack": round(0.04 - 0.03 * b, 4),
        "burst": max(1, round(1 + 2 * b)),
        "widen": max(1, round(1 + 3 * b)),
        "trend": round(0.04 - 0.03 * b, 4),
        "min_complete": max(2, round(2 + 3 * b)),
    }


class ConfidenceMomentumController:
    def __init__(self, config=None):
        config = config or {}
        self.beta = float(config.get("beta", 0.5))
        self.s = momentum_schedule(self.beta)

    def solve(self, question):
        s = self.s
        branches = []  # [index, latest, finished, abandoned, probes, disagree]
        completed = []

        def widen(count):
            for _ in range(count):
                if len(branches) >= s["max_branches"]:
                    return
                try:
                    answer, index, finished = question.probe_new()
                except (IndexError, ValueError):
                    return
                branches.append([index, answer, finished, False, 0, 0])
                if finished:
                    completed.append(answer)

        def live():
            return [b for b in branches if not (b[2] or b[3])]

        widen(s["n_init"])
        if not branches:
            return None
        ema = 0.0
        recent = []
        for step in range(500):
            winner, conf = _confidence(completed)
            warm = step >= s["warm_up"]
            ema = (1.0 - s["alpha"]) * ema + s["alpha"] * conf
            recent.append(ema)
            recent = recent[-s["window"] :]
            if warm and winner is not None:
                open_now = live()
                for b in open_now:
                    b[5] = b[5] + 1 if b[1] != winner else 0
                stale = sorted((b for b in open_now if b[5] >= s["patience"]), key=lambda b: -b[5])
                for b in stale[: max(0, len(open_now) - 2)]:
                    b[3] = True
            for b in sorted(live(), key=lambda b: -b[4]):
                aligned = warm and winner is not None and b[1] == winner
                for _ in range(s["burst"] if aligned else 1):
                    b[1], b[2] = question.probe_more(b[0])
                    b[4] += 1
                    if b[2]:
                        completed.append(b[1])
                        break
            winner, conf = _confidence(completed)
            ema = (1.0 - s["alpha"]) * ema + s["alpha"] * conf
            recent[-1] = ema
            delta = recent[-1] - recent[0] if len(recent) >= 2 else 0.0
            if (
                warm
                and len(completed) >= s["min_complete"]
                and ema >= s["threshold"]
                and delta >= -s["slack"]
            ):
                return winner
            if not live():
                break
            if delta <= s["trend"] and step >= max(1, s["warm_up"] // 2) and ema < s["threshold"]:
                widen(s["widen"])
        if completed:
            return _confidence(completed)[0]
        counts = Counter(b[1] for b in branches if not b[3])
        return counts.most_common(1)[0][0] if counts else None
