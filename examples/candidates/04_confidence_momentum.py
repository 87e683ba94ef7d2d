"""Round 4 of the example search: the Confidence Momentum Controller, written from
scratch against the public session API (the paper's discovered controller).

Stop on a smoothed (EMA) Beta confidence of the completed answers once it is high
and not falling; deepen branches that agree with the leader faster; abandon
branches that keep disagreeing; widen while confidence is not rising.
"""

from autotts import Controller, Session, beta_confidence, majority, vote_stats


def momentum_schedule(beta: float) -> dict:
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


class ConfidenceMomentumPort(Controller):
    name = "confidence-momentum-port"

    def __init__(self, beta: float = 0.5) -> None:
        self.beta = beta
        self.s = momentum_schedule(beta)

    def solve(self, session: Session) -> str | None:
        s = self.s
        # per opened branch: [index, latest answer, finished, abandoned, probes, disagree]
        branches: list[list] = []
        completed: list[str] = []

        def widen(count: int) -> None:
            for _ in range(count):
                if len(branches) >= s["max_branches"] or not session.can_branch:
                    return
                answer, index, finished = session.probe_new()
                branches.append([index, answer, finished, False, 0, 0])
                if finished:
                    completed.append(answer)

        def live() -> list[list]:
            return [b for b in branches if not (b[2] or b[3])]

        def confidence() -> tuple:
            winner, top1, top2 = vote_stats(completed)
            return winner, beta_confidence(top1, top2)

        widen(s["n_init"])
        if not branches:
            return None
        ema = 0.0
        recent: list[float] = []
        for step in range(500):
            winner, conf = confidence()
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
                    b[1], b[2] = session.probe_more(b[0])
                    b[4] += 1
                    if b[2]:
                        completed.append(b[1])
                        break
            winner, conf = confidence()
            ema = (1.0 - s["alpha"]) * ema + s["alpha"] * conf
            recent[-1] = ema
            delta = recent[-1] - recent[0] if len(recent) >= 2 else 0.0
            session.trace(
                "terminate_check",
                output={"winner": winner, "ema": ema, "delta": delta},
                decision=f"stop if warm, ema >= {s['threshold']} and delta >= -{s['slack']}",
            )
            if (
                warm
                and len(completed) >= s["min_complete"]
                and ema >= s["threshold"]
                and delta >= -s["slack"]
            ):
                session.trace("finish", output={"stop_reason": "confident"})
                return winner
            if not live():
                break
            if delta <= s["trend"] and step >= max(1, s["warm_up"] // 2) and ema < s["threshold"]:
                widen(s["widen"])
        session.trace("finish", output={"stop_reason": "exhausted"})
        if completed:
            return confidence()[0]
        return majority([b[1] for b in branches if not b[3]])
