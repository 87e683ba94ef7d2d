"""autotts: discover test-time-scaling controllers on replayed reasoning trajectories.

The public API: write a :class:`Controller` against a :class:`Session`; load replay
data with :func:`load_replay`; drive the formal MDP with :class:`ReplayEnv` and its
actions; evaluate with :func:`evaluate` (see :mod:`autotts.evaluation`); search for new
controllers with :func:`discover` and read a run with :class:`DiscoveryRun`.
"""

from typing import TYPE_CHECKING, Any

from autotts.controllers.base import Controller
from autotts.controllers.registry import ControllerSpec, build
from autotts.controllers.voting import beta_confidence, majority, vote_stats, weighted_majority
from autotts.data.loading import load_replay
from autotts.env.mdp import Answer, Branch, Continue, Observation, Probe, Prune, ReplayEnv
from autotts.env.session import Session
from autotts.errors import (
    AutoTTSError,
    BudgetExceeded,
    ChecksumMismatch,
    ControllerError,
    DataFormatError,
    DownloadError,
    EpisodeOver,
    InvalidAction,
    NoMoreBranches,
    StepLimitExceeded,
    UnknownName,
    UsageError,
)
from autotts.version import __version__

if TYPE_CHECKING:
    from autotts.discovery.api import DiscoveryRun, discover


def __getattr__(name: str) -> Any:
    if name in ("discover", "DiscoveryRun"):
        # Start-up time: the discovery API is imported on first use; it pulls in Jinja2
        # and the loop, which plain evaluation never needs.
        from autotts.discovery import api

        return getattr(api, name)
    raise AttributeError(f"module 'autotts' has no attribute {name!r}")


__all__ = [
    "Answer",
    "AutoTTSError",
    "Branch",
    "BudgetExceeded",
    "ChecksumMismatch",
    "Continue",
    "Controller",
    "ControllerError",
    "ControllerSpec",
    "DataFormatError",
    "DiscoveryRun",
    "DownloadError",
    "EpisodeOver",
    "InvalidAction",
    "NoMoreBranches",
    "Observation",
    "Probe",
    "Prune",
    "ReplayEnv",
    "Session",
    "StepLimitExceeded",
    "UnknownName",
    "UsageError",
    "__version__",
    "beta_confidence",
    "build",
    "discover",
    "load_replay",
    "majority",
    "vote_stats",
    "weighted_majority",
]
