"""The token-charging rule of a replay episode, in one place.

A branch of ``length`` tokens with ``n_probes`` probe points every Δ (``freq``) tokens:

* each interval it generates while it still has probe points costs Δ: its ``k``-th
  read, walking probe by probe, costs Δ for ``k <= n_probes``;
* running to its end from depth ``d`` costs ``max(0, length - Δ·d)``
  (:func:`finish_charge`): the ``(n_probes + 1)``-th read costs
  ``max(0, length - Δ·n_probes)``, a read to the end from depth 0 (a full read) costs
  ``length``, and any read after the end nothing. So a branch walked probe by probe
  costs ``max(Δ·n_probes, length)`` (probes may overcharge, as the published code does).

(Revealing an answer not seen before costs ``kappa_probe·Δ`` on top, 0 in the
reference protocol; only :class:`~autotts.env.episode.Episode` has that knob.)

Every accounting of the package charges with these functions: the episode
(:mod:`autotts.env.episode`, one action at a time), the sandbox worker's lean session
(:mod:`autotts.env.fast_session`), the vectorised kernels' batch
(:mod:`autotts.env.batch`), the evaluator's check of a worker's logs
(:mod:`autotts.env.log_accounts`) and the live stand-in model
(:mod:`autotts.live.replay_model`). The scalar functions are plain Python (the PyPy
worker imports them, without NumPy); :func:`slot_charges` is the same arithmetic on
NumPy arrays, for the paths that charge whole tables at once (a test holds it to the
scalar form on every case).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

__all__ = ["FULL", "finish_charge", "read_charge", "slot_charge", "slot_charges"]

#: A read count standing for "read to its end in one go" (a full read): above any count
#: of probe-by-probe reads.
FULL = 1 << 62


def finish_charge(length: int, freq: int, depth: int) -> int:
    """Tokens to run a branch from ``depth`` intervals to its end."""
    return max(0, length - freq * depth)


def read_charge(k: int, n_probes: int, length: int, freq: int) -> int:
    """Tokens the ``k``-th probe-by-probe read (1-based) of a branch costs."""
    if k <= n_probes:
        return freq
    return finish_charge(length, freq, n_probes) if k == n_probes + 1 else 0


def slot_charge(reads: int, n_probes: int, length: int, freq: int) -> int:
    """Tokens charged to a branch after ``reads`` probe-by-probe reads (:data:`FULL`: one
    full read): the sum of :func:`read_charge` over its reads."""
    if reads >= FULL:
        return length
    charge = freq * min(reads, n_probes)
    return charge + finish_charge(length, freq, n_probes) if reads > n_probes else charge


def slot_charges(
    reads: npt.NDArray[np.int64],
    n_probes: npt.NDArray[np.int64],
    length: npt.NDArray[np.int64],
    freq: npt.NDArray[np.int64] | int,
) -> npt.NDArray[np.int64]:
    """:func:`slot_charge` element by element, for probe-by-probe reads (no full read)."""
    # NumPy: this module is also the PyPy worker's, which has no NumPy (only the scalar
    # rule runs there).
    import numpy as np

    walked = freq * np.minimum(reads, n_probes)
    charged: npt.NDArray[np.int64] = walked + np.where(
        reads > n_probes, np.maximum(0, length - freq * n_probes), 0
    )
    return charged
