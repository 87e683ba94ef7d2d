"""Composable controllers: parts (width, depth, pruning, stopping, voting) and β schedules.

* :mod:`.plain`: the parts and the episode-at-a-time controller (public API only);
* :mod:`.vectorised`: the same controller over a batch of episodes;
* :mod:`.schedule`: β schedules with few free numbers, monotone by construction;
* :mod:`.builtins`: the hand-written built-ins expressed as parts.
"""

from autotts.controllers.composable.fast import FastParts, KnobsController
from autotts.controllers.composable.plain import Knobs, PartsController, length_weights
from autotts.controllers.composable.schedule import (
    KNOB_RANGES,
    PART_CHOICES,
    BetaSchedule,
    Composed,
)

__all__ = [
    "KNOB_RANGES",
    "PART_CHOICES",
    "BetaSchedule",
    "Composed",
    "FastParts",
    "Knobs",
    "KnobsController",
    "PartsController",
    "length_weights",
]
