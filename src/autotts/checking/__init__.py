"""PLACEHOLDER for the candidate checks (issue 6 replaces this module at merge).

The real ``autotts.checking`` runs a candidate in the sandbox (separate process,
hard limits, upstream-format loading) and measures monotonicity and
determinism. This stand-in keeps only the contract the discovery loop calls:

    report = check_controller(reference, data, betas=..., seeds=...)

It never raises for a bad candidate. In-process, it loads the class (through the
source audit), builds it at every β and replays a tiny evaluation on the first
data file; failures become ``rejected`` with the reason codes ``load``,
``interface``, ``crash``, ``bad-return``, ``peeking`` or ``forbidden``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from autotts.controllers.registry import ControllerSpec, build, load_controller_class
from autotts.errors import AutoTTSError, ControllerError
from autotts.evaluation.jobs import DataRef, EvalJob, evaluate
from autotts.evaluation.protocols import ReferenceProtocol

__all__ = ["PLACEHOLDER", "CheckReport", "check_controller"]

#: True only in this stand-in; tests that need the real sandbox skip on it.
PLACEHOLDER = True


@dataclass
class CheckReport:
    """Verdict on one candidate; :meth:`to_dict` is the ``check.json`` object."""

    verdict: str
    reason: str | None = None
    detail: str = ""
    checks: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict,
            "reason": self.reason,
            "detail": self.detail,
            "checks": list(self.checks),
        }


def check_controller(
    reference: str,
    data: DataRef | Sequence[DataRef],
    *,
    betas: Sequence[float] = (0.0, 0.5, 1.0),
    seeds: int = 1,
) -> CheckReport:
    """Check ``path.py:Class`` on ``data``; a bad candidate gives a rejected report."""
    refs = [data] if isinstance(data, DataRef) else list(data)
    checks: list[dict[str, Any]] = []

    def reject(reason: str, detail: str) -> CheckReport:
        checks.append({"name": reason, "passed": False, "detail": detail})
        return CheckReport("rejected", reason, detail, checks)

    try:
        load_controller_class(reference)
    except ControllerError as exc:
        text = str(exc)
        if "controller audit" in text:
            reason = "peeking" if "private attribute" in text else "forbidden"
            return reject(reason, text)
        return reject("load", text)
    except AutoTTSError as exc:
        return reject("interface", str(exc))
    except Exception as exc:  # an import-time failure the loader did not wrap
        return reject("load", f"{type(exc).__name__}: {exc}")
    checks.append({"name": "load", "passed": True, "detail": ""})
    for beta in betas:
        try:
            build(ControllerSpec(reference, beta))
        except Exception as exc:
            return reject("interface", f"cannot build with beta={beta:g}: {exc}")
    checks.append({"name": "interface", "passed": True, "detail": f"built at β={list(betas)}"})
    if refs:
        for beta in betas:
            job = EvalJob(refs[0], ControllerSpec(reference, beta), ReferenceProtocol(seeds))
            try:
                evaluate(job)
            except ControllerError as exc:
                text = str(exc)
                reason = "bad-return" if "must return a str or None" in text else "crash"
                return reject(reason, text)
            except Exception as exc:
                return reject("crash", f"{type(exc).__name__}: {exc}")
        checks.append(
            {"name": "run", "passed": True, "detail": f"{refs[0].model}/{refs[0].benchmark}"}
        )
    return CheckReport("accepted", None, "", checks)
