"""The caps a served request may set on its episode, and the ledger that holds the token
cap hard (see :mod:`~autotts.live.runtime`, whose episode enforces them)."""

from __future__ import annotations

import threading
from dataclasses import dataclass

from autotts.errors import UsageError

__all__ = ["RequestBudget", "TokenLedger"]


@dataclass(frozen=True)
class RequestBudget:
    """Caps on one episode; ``None`` is no cap."""

    #: completion tokens the upstream may generate for the episode, all requests included
    max_tokens: int | None = None
    #: branches the controller may open
    max_branches: int | None = None

    def __post_init__(self) -> None:
        for name in ("max_tokens", "max_branches"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise UsageError(f"{name} must be >= 1, got {value}")


class TokenLedger:
    """Completion tokens committed to an episode: reported by finished requests plus the
    whole allowance (``max_tokens``) of every request in flight.

    Reserving before sending is what makes the cap hard: however the requests in flight
    end, together they cannot report more than was reserved for them. Reserved from the
    controller's thread, settled on the event loop, hence the lock.
    """

    def __init__(self, cap: int | None) -> None:
        self.cap = cap
        self.committed = 0
        #: the cap refused or shortened something the controller asked for
        self.hit = False
        #: the cap refused a read (raised BudgetExceeded into the controller)
        self.refused = False
        self._lock = threading.Lock()

    def affords(self, tokens: int) -> bool:
        with self._lock:
            return self.cap is None or self.committed + tokens <= self.cap

    def reserve(self, tokens: int) -> bool:
        """Commit ``tokens`` if they fit under the cap; whether they did."""
        with self._lock:
            if self.cap is not None and self.committed + tokens > self.cap:
                return False
            self.committed += tokens
            return True

    def reserve_up_to(self, tokens: int) -> int:
        """Commit as many of ``tokens`` as fit (0: none)."""
        with self._lock:
            grant = tokens if self.cap is None else max(0, min(tokens, self.cap - self.committed))
            self.committed += grant
            return grant

    def settle(self, reserved: int, used: int) -> None:
        """A request reserved ``reserved`` and is known to have used ``used``."""
        with self._lock:
            self.committed += used - reserved
