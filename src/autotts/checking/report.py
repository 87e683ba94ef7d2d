"""The outcome of checking a candidate controller: a verdict, a reason code, the evidence."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from autotts.errors import REJECTION_REASONS

__all__ = ["REJECTION_REASONS", "CheckReport", "CheckResult"]


@dataclass
class CheckResult:
    """One check: its name, whether it passed, a one-line detail and its measurements."""

    name: str
    passed: bool
    detail: str
    measurements: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "passed": self.passed,
            "detail": self.detail,
            "measurements": self.measurements,
        }


@dataclass
class CheckReport:
    """What :func:`~autotts.checking.check_controller` found.

    ``reason`` is ``None`` when accepted, else one of :data:`REJECTION_REASONS`;
    ``checks`` lists each check run, in order, as dicts (name, passed, detail,
    measurements); ``advice`` holds the static audit's findings (shown, never decisive);
    ``monotonicity`` maps each data file to its mean tokens per β.
    """

    verdict: str
    reason: str | None
    detail: str
    checks: list[dict[str, Any]]
    controller: dict[str, Any] = field(default_factory=dict)
    advice: list[str] = field(default_factory=list)
    monotonicity: dict[str, list[dict[str, float]]] = field(default_factory=dict)
    sandbox_layers: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def __post_init__(self) -> None:
        if self.verdict not in {"accepted", "rejected"}:
            raise ValueError(f"verdict must be accepted or rejected, got {self.verdict!r}")
        if (self.reason is None) != (self.verdict == "accepted"):
            raise ValueError("a rejection needs a reason, an acceptance has none")
        if self.reason is not None and self.reason not in REJECTION_REASONS:
            raise ValueError(f"unknown rejection reason {self.reason!r}")

    @property
    def accepted(self) -> bool:
        return self.verdict == "accepted"

    def to_dict(self) -> dict[str, Any]:
        """Exactly what ``autotts check --json`` prints."""
        return {
            "verdict": self.verdict,
            "reason": self.reason,
            "detail": self.detail,
            "checks": self.checks,
            "controller": self.controller,
            "monotonicity": self.monotonicity,
            "advice": self.advice,
            "sandbox_layers": self.sandbox_layers,
            "seconds": round(self.seconds, 2),
        }
