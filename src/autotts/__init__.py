"""autotts: discover test-time-scaling controllers on replayed reasoning trajectories.

The public API: write a :class:`Controller` against a :class:`Session`; load replay
data with :func:`load_replay`; drive the formal MDP with :class:`ReplayEnv` and its
actions; evaluate with :func:`evaluate` (see :mod:`autotts.evaluation`).
"""

from autotts.controllers.base import Controller
from autotts.controllers.registry import ControllerSpec, build
from autotts.controllers.voting import beta_confidence, majority, vote_stats
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

__version__ = "0.1.0"

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
    "load_replay",
    "majority",
    "vote_stats",
]
