"""A trained policy as a controller: in this process (with the batch path) or as a file.

:func:`policy_controller` gives a class for trusted, in-process use (the search's own
evaluations): the plain controller plus a vectorised ``vectorised()``.
:func:`render_policy_file` writes the file a user runs with ``autotts eval`` /
``check``: the source of :mod:`.plain` with public imports, and a subclass holding
the trained weights. That file runs in the sandbox like any other.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Sequence
from typing import Any

import numpy as np

from autotts.controllers.base import VectorisedRun
from autotts.discovery.policy import plain as plain_module
from autotts.discovery.policy.family import FloatArray, weights
from autotts.discovery.policy.plain import FEATURES, PolicyController
from autotts.discovery.policy.rollout import rollout
from autotts.env.batch import BatchOutcome, EpisodeBatch

__all__ = ["policy_controller", "render_policy_file"]

_PUBLIC_IMPORT = "from autotts import Controller, beta_confidence, majority, vote_stats\n"


def policy_controller(theta: FloatArray, name: str = "beta-policy") -> type[PolicyController]:
    """A :class:`PolicyController` subclass with ``theta``'s weights and the batch path."""
    theta = np.array(theta, dtype=np.float64)
    if theta.shape != (2, 2, len(FEATURES)):
        raise ValueError(f"theta must have shape (2, 2, {len(FEATURES)}), got {theta.shape}")
    stop_a, stop_b, branch_a, branch_b = weights(theta)

    class Trained(PolicyController):
        STOP_A, STOP_B, BRANCH_A, BRANCH_B = stop_a, stop_b, branch_a, branch_b

        def vectorised(self) -> VectorisedRun:
            beta = self.beta

            def run(batch: EpisodeBatch) -> BatchOutcome:
                return rollout(batch, np.full(batch.size, beta), theta)

            return run

    Trained.name = name
    return Trained


def render_policy_file(
    theta: FloatArray, class_name: str, name: str, provenance: dict[str, Any]
) -> str:
    """The controller file: provenance, the plain controller, the trained subclass."""
    source = inspect.getsource(plain_module)
    body = source.split('"""', 2)[2].lstrip("\n")  # drop the module docstring
    start = body.index("# Exported files replace these imports")
    end = body.index("    from autotts.env.session import Session\n") + len(
        "    from autotts.env.session import Session\n"
    )
    body = (
        body[:start]
        + _PUBLIC_IMPORT
        + "\nif TYPE_CHECKING:\n    from autotts import Session\n"
        + body[end:]
    )
    record = json.dumps(provenance, indent=2, sort_keys=True).splitlines()
    header = (
        f'"""{name}: the mean policy of a Beta policy trained by autotts\' policy search.\n\n'
        "Before every read, two probabilities computed from the episode state decide whether\n"
        "to stop and whether to branch or probe (see PolicyController). Provenance:\n\n"
        + "\n".join(f"    {line}" for line in record)
        + '\n"""\n'
    )

    def tup(values: Sequence[float]) -> str:
        return "(" + ", ".join(repr(float(v)) for v in values) + ",)"

    cls = (
        f"\n\nclass {class_name}(PolicyController):\n"
        f'    """{name}: the trained weights (of FEATURES, in order)."""\n\n'
        f'    name = "{name}"\n'
        + "".join(
            f"    {label} = {tup(values)}\n"
            for label, values in zip(("STOP_A", "STOP_B", "BRANCH_A", "BRANCH_B"), weights(theta))
        )
    )
    return header + "\n" + body.rstrip("\n") + cls
