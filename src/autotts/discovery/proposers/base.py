"""The proposer interface: given the history, return the next candidate's code.

A proposer never raises for a bad reply: a failed or empty exchange comes back
as a :class:`Proposal` with ``code=None`` and an ``error``, and the loop records
it as a failed round. Every exchange (prompt, reply, tokens, money, latency) is
kept in ``exchange`` and stored as the round's ``proposal.json``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from autotts.discovery.baseline_records import BaselinesFile
from autotts.evaluation.jobs import DataRef

__all__ = ["Progress", "Proposal", "ProposalContext", "Proposer"]

#: What a proposer reports while it works: ``{"tokens", "seconds"}`` as a reply streams
#: in, ``{"prompt_tokens", "window", "max_tokens", "cut"}`` once the prompt is fitted,
#: ``{"retry", "of", "wait", "error"}`` before a retry.
Progress = Callable[[dict[str, Any]], None]


@dataclass
class ProposalContext:
    """What a proposer may read for round ``round`` (search-set material only)."""

    round: int
    rounds: int
    #: earlier rounds, oldest first (see :mod:`autotts.discovery.history`)
    history: list[dict[str, Any]]
    #: ``baselines.json``: the hand-crafted controllers' curves on the search set
    baselines: BaselinesFile
    #: a scratch folder for this round (the agent proposer's workspace)
    workdir: Path
    #: where progress goes (the terminal); None: nowhere
    progress: Progress | None = None
    #: the run's ablations (``discover --no-trace-digest``/``--no-beta``): the prompt
    #: then carries no trace digest, or asks for one fixed setting with no β knob
    no_trace_digest: bool = False
    no_beta: bool = False
    #: the search files, for a proposer that evaluates on its own (the optimiser); the
    #: held-out files are never here
    search: list[DataRef] = field(default_factory=list)
    #: a folder kept from round to round and across resumes (``RUN/proposer``): what a
    #: proposer carries between rounds (the optimiser's study); None: nothing is kept
    state: Path | None = None

    def report(self, event: dict[str, Any]) -> None:
        if self.progress is not None:
            self.progress(event)


@dataclass
class Proposal:
    """A proposer's answer. ``code`` is None when the exchange failed."""

    code: str | None
    name: str = ""
    class_name: str | None = None
    #: the proposer's own account of the idea (what a person reads first)
    summary: str = ""
    exchange: dict[str, Any] = field(default_factory=dict)
    error: str | None = None

    @property
    def money(self) -> float:
        return float(self.exchange.get("money", 0.0) or 0.0)

    @property
    def tokens(self) -> int:
        return int(self.exchange.get("input_tokens", 0) or 0) + int(
            self.exchange.get("output_tokens", 0) or 0
        )


class Proposer(Protocol):
    """One kind of proposer (``scripted``, ``openai``, ``anthropic``, ``agent``)."""

    kind: str

    def describe(self) -> dict[str, Any]:
        """Settings recorded in ``run.json`` (never secrets)."""
        ...

    def remaining(self, round_number: int) -> bool:
        """False when the proposer has nothing more to offer (a scripted list ran out)."""
        ...

    def propose(self, context: ProposalContext) -> Proposal: ...
