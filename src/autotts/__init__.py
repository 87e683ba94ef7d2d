"""autotts: discover test-time-scaling controllers on replayed reasoning trajectories."""

from autotts.controllers.base import Controller
from autotts.controllers.voting import beta_confidence, majority, vote_stats
from autotts.env.session import Session

__version__ = "0.1.0"

__all__ = ["Controller", "Session", "__version__", "beta_confidence", "majority", "vote_stats"]
