"""Every search's pick on the held-out files: is what the search finds stable across seeds?

A run with ``--search-seeds N`` picks one trial per search and then one winner
among the picks (by the pooled search-set score); only the winner's held-out
evaluation (``heldout.json``) decides anything. This module evaluates the other
picks too, strictly afterwards: it refuses to run before ``heldout.json`` exists,
and what it writes (``heldout_picks.json``) is never read by a selection. Each
pick is compared with CMC exactly as the winner is
(:func:`~autotts.discovery.optimizer.heldout.compare_on`), at the β its own
search-set curve (100 replay seeds, the winner's rule) chose for each of CMC's
budgets, and *passes* when both of those β spend no more than CMC and gain with
a 95 % lower bound above zero: the test the pre-registered rule applies to the
winner.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

from autotts.controllers.composable import BetaSchedule, Composed
from autotts.discovery.heldout_common import read_selection
from autotts.discovery.heldout_records import BudgetGains
from autotts.discovery.optimizer.driver import POOLED_SEEDS, WINNER_GRID
from autotts.discovery.optimizer.heldout import compare_on, reference_curves
from autotts.discovery.optimizer.objective import SearchData, cmc_reference, operating_gains
from autotts.discovery.rundir import RunDir
from autotts.discovery.settings import DiscoverySettings
from autotts.errors import UsageError
from autotts.evaluation.jobs import load_data

__all__ = ["PICKS_FILE", "evaluate_every_pick", "passes"]

PICKS_FILE = "heldout_picks.json"
Event = Callable[[dict[str, Any]], None]


def passes(gains: Sequence[BudgetGains]) -> bool:
    """Whether, at every CMC budget, the search-chosen β spends within it and its gain's
    95 % lower bound (``ci95``: questions drawn jointly across models) is above zero."""
    for budget in gains:
        chosen = budget.search_choices()
        if not chosen or not all(c.wins() for c in chosen):
            return False
    return True


def evaluate_every_pick(
    run: RunDir, *, seeds: int = 100, on_event: Event | None = None
) -> dict[str, Any]:
    """Every search's pick against CMC on the held-out files; writes ``heldout_picks.json``."""
    if not run.file("heldout.json").is_file():
        raise UsageError(
            "every pick is evaluated only after the winner's held-out evaluation "
            "(heldout.json) exists: it is a report on the search, never an input to it"
        )
    selection = read_selection(run)
    settings = DiscoverySettings.from_run_json(run.settings())
    data = SearchData([load_data(r) for r in settings.search], seeds=POOLED_SEEDS)
    cmc = cmc_reference(data)
    references = reference_curves(settings.heldout, seeds, on_event)
    picks = []
    for pick in selection.get("searches", []):
        schedule = BetaSchedule.from_dict(pick["schedule"])
        if pick["search"] == selection.get("search"):  # the winner: its recorded choice
            chosen = dict(selection["betas_at_cmc_budgets"])
        else:
            gains = operating_gains(data.run(schedule, WINNER_GRID), cmc)
            chosen = {str(g["cmc_beta"]): g["beta"] for g in gains}
        payload = compare_on(
            settings.heldout,
            partial(Composed, schedule),
            {"betas_at_cmc_budgets": chosen},
            seeds,
            on_event,
            references=references,
        )
        budgets = [BudgetGains.from_dict(g) for g in payload["gains"]]
        picks.append(
            {
                "search": pick["search"],
                "trial": pick["trial"],
                "selected": pick["search"] == selection.get("search"),
                "pooled_score": pick.get("pooled_score"),
                "betas_at_cmc_budgets": chosen,
                "gains": payload["gains"],
                "sc64_share": payload["sc64_share"]["winner"],
                "passes": passes(budgets),
            }
        )
    result = {
        "rule": "each search's pick at the β its search-set curve chose for each of CMC's "
        "budgets; passes when both spend within CMC's tokens and gain with a 95 % lower bound "
        "above zero (questions resampled jointly across models); read after heldout.json, "
        "never used to choose",
        "protocol": {"name": "reference", "seeds": seeds},
        "picks": picks,
        "passing": sum(p["passes"] for p in picks),
    }
    run.write_json(PICKS_FILE, result)
    return result
