"""Distributed execution: evaluation jobs as cells (job × block of replicates) on Ray.

Importing this package does not import Ray; :class:`RayExecutor` does, when it
connects. Install with ``pip install 'autotts[ray]'``.
"""

from autotts.evaluation.cells import (
    DEFAULT_SEED_BLOCK,
    Cell,
    CellResult,
    combine,
    evaluate_cell,
    plan_cells,
)
from autotts.scale.ray_executor import INSTALL_HINT, ClusterError, RayExecutor, import_ray

__all__ = [
    "DEFAULT_SEED_BLOCK",
    "INSTALL_HINT",
    "Cell",
    "CellResult",
    "ClusterError",
    "RayExecutor",
    "combine",
    "evaluate_cell",
    "import_ray",
    "plan_cells",
]
