"""Branch orders: which branches an episode may open, and in which order.

The reference protocol shuffles a question's branch list with
``random.Random(seed).shuffle`` before every episode. A shuffle's outcome depends
only on the list's length, so it is computed once per (length, seed) as a
permutation of indices and reused for every question and controller.
"""

from __future__ import annotations

import random
from functools import lru_cache

import numpy as np
import numpy.typing as npt

__all__ = ["reference_order", "reference_orders"]


@lru_cache(maxsize=4096)
def reference_order(n_branches: int, seed: int) -> tuple[int, ...]:
    """The branch order of the reference protocol for one question and seed."""
    order = list(range(n_branches))
    random.Random(seed).shuffle(order)
    return tuple(order)


def reference_orders(n_branches: int, seeds: range | list[int]) -> npt.NDArray[np.int64]:
    """``[len(seeds), n_branches]`` array of reference orders (read-only)."""
    if isinstance(seeds, range) and seeds.step == 1:
        return _consecutive_orders(n_branches, seeds.start, seeds.stop)
    return _frozen([reference_order(n_branches, s) for s in seeds])


@lru_cache(maxsize=16)
def _consecutive_orders(n_branches: int, start: int, stop: int) -> npt.NDArray[np.int64]:
    # Every sandboxed cell of a file asks for the same 100 seeds of every question;
    # building the array from the cached tuples took about as long as checking the
    # cell's logs. Read-only, so no caller can change what the next one gets.
    return _frozen([reference_order(n_branches, s) for s in range(start, stop)])


def _frozen(rows: list[tuple[int, ...]]) -> npt.NDArray[np.int64]:
    array = np.asarray(rows, dtype=np.int64)
    array.flags.writeable = False
    return array
