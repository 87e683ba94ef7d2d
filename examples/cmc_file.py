"""The built-in Confidence Momentum Controller written as a controller file.

Used to time ``autotts check`` on a CMC-sized controller and to measure the
sandbox's overhead (``benchmarks/sandbox_overhead.py``): the same policy as
``-c cmc``, run like any untrusted file.
"""

from autotts import Controller, Session
from autotts.controllers.cmc import ConfidenceMomentum


class CMCFile(Controller):
    name = "cmc-file"

    def __init__(self, beta: float = 0.5) -> None:
        self.beta = beta
        self._policy = ConfidenceMomentum.from_beta(beta)

    def solve(self, session: Session) -> str | None:
        return self._policy.solve(session)
