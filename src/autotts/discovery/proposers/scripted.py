"""``scripted``: the controller files of a folder, in name order, one per round.

For tests, demos and re-running a published search. Upstream-format files are
taken as they are; ``class_name`` says which class is the candidate where a file
defines several.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from autotts.discovery.proposers.base import Proposal, ProposalContext
from autotts.discovery.rundir import FIRST_ROUND
from autotts.errors import UsageError

__all__ = ["ScriptedProposer"]


class ScriptedProposer:
    kind = "scripted"

    def __init__(self, candidates: Path | str, class_name: str | None = None) -> None:
        folder = Path(candidates)
        if not folder.is_dir():
            raise UsageError(f"--candidates {folder} is not a folder")
        self.folder = folder
        self.files = sorted(p for p in folder.glob("*.py") if not p.name.startswith("_"))
        if not self.files:
            raise UsageError(f"--candidates {folder} holds no .py files")
        self.class_name = class_name

    def describe(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "candidates": str(self.folder.resolve()),
            "files": [p.name for p in self.files],
            "class": self.class_name,
        }

    def remaining(self, round_number: int) -> bool:
        return round_number - FIRST_ROUND < len(self.files)

    def propose(self, context: ProposalContext) -> Proposal:
        path = self.files[context.round - FIRST_ROUND]  # round 1 gets the first file
        try:
            code = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            return Proposal(None, name=path.stem, error=f"cannot read {path}: {exc}")
        return Proposal(
            code,
            name=path.stem,
            class_name=self.class_name,
            summary=f"scripted candidate {path.name}",
            exchange={"source": str(path), "money": 0.0, "input_tokens": 0, "output_tokens": 0},
        )
