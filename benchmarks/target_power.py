"""How likely is a search to meet issue 21's target, given the gains its picks show?

Run:  python benchmarks/target_power.py [RECORD ...]
      (default: the heldout_picks.json of docs/optimizer/fixed-structure, seeds20 and
       cmaes: every pre-registered fixed-structure run's picks)

Each record is an ``autotts optimize --every-pick`` file: every search's pick scored on
the held-out files at the β its own search-set curve chose for each of CMC's budgets,
with the paired-bootstrap 95 % interval that draws each question once for every model.
These picks were all pre-registered and none was chosen by its held-out score, so their
mean gain at a budget estimates what a pick of such a search gains there.

The target asks, at each budget, for a gain whose 95 % lower bound is above zero. Taking
the interval as normal, a pick whose true gain is ``g`` with standard error ``se``
(half the interval's width over 1.96) clears that bound with probability
``P(Z > 1.96 - g / se)``. This script puts the picks' mean gain and mean standard error
in that formula for each budget (the power of one pick at that budget), bounds the chance
that one pick passes both budgets by the smaller of the two, and the chance that at least
2 of 3 picks pass by ``3u^2 - 2u^3`` at that bound ``u``. It also prints how many times
the held-out questions would have to grow for one pick to reach 80 % power at each budget
(``se`` shrinks as one over the square root of the questions), and, to check the model
against the records, how many picks' own lower bounds are above zero.

A model of the records, not a measurement of a new search: it assumes every pick has the
same true gain (its mean) and a normal interval. It says how much luck the target needs
at the effect sizes these data show; it chooses nothing.
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path
from statistics import NormalDist, fmean

from autotts.discovery.heldout_records import BudgetGains

DOCS = Path(__file__).parents[1] / "docs" / "optimizer"
DEFAULT_RECORDS = [
    DOCS / "fixed-structure" / "heldout_picks.json",
    DOCS / "seeds20" / "heldout_picks.json",
    DOCS / "cmaes" / "heldout_picks.json",
]
Z95 = 1.959964
Z80 = 0.841621


def chosen_gains(record: Path) -> dict[float, list[tuple[float, float, float]]]:
    """Per CMC budget, each pick's (gain, standard error, interval's lower bound) at the β
    its search chose."""
    out: dict[float, list[tuple[float, float, float]]] = defaultdict(list)
    for pick in json.loads(record.read_text(encoding="utf-8"))["picks"]:
        for budget in map(BudgetGains.from_dict, pick["gains"]):
            for row in budget.search_choices():
                low, high = row.gain.ci95
                out[budget.cmc_beta].append((row.gain.gain, (high - low) / (2 * Z95), low))
    return out


def budget_power(rows: list[tuple[float, float, float]]) -> tuple[float, float, float, int, float]:
    """For one budget's picks: mean gain, mean standard error, the power of one pick (the
    chance its lower bound clears zero), how many picks' bounds did, and by how many times
    the questions would have to grow for 80 % power."""
    gain = fmean(row[0] for row in rows)
    se = fmean(row[1] for row in rows)
    power = 1.0 - NormalDist().cdf(Z95 - gain / se)
    cleared = sum(low > 0 for _, _, low in rows)
    grow = ((Z95 + Z80) * se / gain) ** 2 if gain > 0 else float("inf")
    return gain, se, power, cleared, grow


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("records", nargs="*", type=Path, default=DEFAULT_RECORDS)
    args = parser.parse_args()

    pooled: dict[float, list[tuple[float, float, float]]] = defaultdict(list)
    for record in args.records:
        for budget, rows in chosen_gains(record).items():
            pooled[budget].extend(rows)
    powers = {}
    print(f"{sum(len(r) for r in pooled.values()) // max(1, len(pooled))} picks")
    header = ("CMC budget", "mean gain", "mean se", "power", "observed", "x questions")
    print("{:>10s} {:>9s} {:>8s} {:>6s} {:>9s} {:>11s}".format(*header))
    for budget in sorted(pooled):
        # "observed" checks the model against the records: picks whose bound cleared zero
        gain, se, powers[budget], cleared, grow = budget_power(pooled[budget])
        print(
            f"{budget:>10g} {gain:+9.2f} {se:8.2f} {powers[budget]:6.1%}"
            f" {f'{cleared} of {len(pooled[budget])}':>9s} {grow:11.1f}"
        )
    both = min(powers.values())
    print(f"one pick passes both budgets: at most {both:.1%}")
    print(f"at least 2 of 3 picks pass both: at most {3 * both**2 - 2 * both**3:.1%}")


if __name__ == "__main__":
    main()
