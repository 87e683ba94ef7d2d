"""The run directory every discovery mode writes (docs/run-directory.md).

Crash safety comes from two rules. A round is built in a temporary folder
(``rounds/.tmp-NNNN``) and renamed to ``rounds/NNNN`` only when every file in it
is written; its index line is appended to ``index.jsonl`` after the rename, and a
copy of that line sits in the folder as ``round.json``. On reopening, temporary
folders are discarded and a renamed folder whose index line is missing gets it
appended from ``round.json``; so a SIGKILL at any instant loses at most the round
in flight, and no round is ever counted twice.

Rounds are numbered from 1, and that one number is the folder's name, the
``round`` of its index line and of ``selection.json``, and what the terminal and
the report print (runs written before this counted from 0 and keep their numbers).
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from autotts.atomic import write_atomic
from autotts.discovery.baseline_records import BaselinesFile
from autotts.discovery.heldout_records import DiscoverHeldout, OptimizerHeldout, read_heldout
from autotts.discovery.records import RoundEntry, Selection
from autotts.discovery.transfer_records import TransferFile
from autotts.errors import UsageError

__all__ = ["RunDir", "write_json_atomic", "write_text_atomic"]

ROUND_SUMMARY = "round.json"
SELECTION = "selection.json"
BASELINES = "baselines.json"
HELDOUT = "heldout.json"
TRANSFER = "transfer.json"
#: The number of a run's first round.
FIRST_ROUND = 1
#: Files of a round whose text may name the temporary folder (error messages).
_TEXT_FILES = ("*.json", "*.md")


def write_text_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` so that a reader sees the old file or the new one, and
    flushed to disk before the rename: a run folder must survive a machine crash."""
    write_atomic(path, text.encode("utf-8"), durable=True)


def write_json_atomic(path: Path, payload: Any) -> None:
    write_text_atomic(path, json.dumps(payload, indent=2, ensure_ascii=False) + "\n")


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class RunDir:
    """One run folder: settings, rounds, index, selection and held-out results."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)

    # -- files ------------------------------------------------------------------
    @property
    def rounds_dir(self) -> Path:
        return self.path / "rounds"

    @property
    def index_path(self) -> Path:
        return self.path / "index.jsonl"

    def file(self, name: str) -> Path:
        return self.path / name

    def round_dir(self, number: int) -> Path:
        return self.rounds_dir / f"{number:04d}"

    def exists(self) -> bool:
        return (self.path / "run.json").is_file()

    def read_json(self, name: str) -> Any:
        path = self.path / name
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise UsageError(f"{path} does not exist") from None
        except json.JSONDecodeError as exc:
            raise UsageError(f"{path} is not valid JSON: {exc}") from None

    def write_json(self, name: str, payload: Any) -> None:
        write_json_atomic(self.path / name, payload)

    # -- lifecycle ----------------------------------------------------------------
    def create(self, settings: dict[str, Any]) -> None:
        """Start a new run; refuses a folder that already holds one."""
        if self.exists():
            raise UsageError(f"{self.path} already holds a run; pass --resume to continue it")
        if self.path.exists() and any(self.path.iterdir()):
            raise UsageError(f"{self.path} exists and is not empty; choose a new --out folder")
        self.rounds_dir.mkdir(parents=True, exist_ok=True)
        self.write_json("run.json", settings)

    def settings(self) -> dict[str, Any]:
        if not self.exists():
            raise UsageError(f"{self.path} holds no discovery run (no run.json)")
        settings: dict[str, Any] = self.read_json("run.json")
        return settings

    def recover(self) -> list[int]:
        """Make the folder consistent after a crash; returns the numbers of rounds dropped.

        Temporary folders are removed; a finished folder without its index line gets
        it appended (it was renamed, so it is complete).
        """
        dropped: list[int] = []
        if not self.rounds_dir.is_dir():
            return dropped
        for tmp in sorted(self.rounds_dir.glob(".tmp-*")):
            shutil.rmtree(tmp, ignore_errors=True)
            dropped.append(int(tmp.name.split("-")[1]))
        indexed = {entry.round for entry in self.index()}
        for folder in sorted(p for p in self.rounds_dir.iterdir() if p.name.isdigit()):
            number = int(folder.name)
            if number not in indexed:
                summary = json.loads((folder / ROUND_SUMMARY).read_text(encoding="utf-8"))
                # read and written back key for key: the line is round.json's object
                self._append_index(RoundEntry.from_dict(summary))
        return dropped

    def index(self) -> list[RoundEntry]:
        """The index lines, in round order; a torn last line (crash mid-append) is ignored."""
        if not self.index_path.is_file():
            return []
        entries = []
        for line in self.index_path.read_text(encoding="utf-8").splitlines():
            try:
                value = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(value, dict) and "round" in value:
                entries.append(RoundEntry.from_dict(value))
        return sorted(entries, key=lambda e: int(e.round))

    def next_round(self) -> int:
        entries = self.index()
        return int(entries[-1].round) + 1 if entries else FIRST_ROUND

    def selection(self) -> Selection | None:
        """``selection.json``, or None before the search has ended."""
        if not self.file(SELECTION).is_file():
            return None
        return Selection.from_dict(self.read_json(SELECTION))

    def write_selection(self, selection: Selection) -> None:
        self.write_json(SELECTION, selection.to_dict())

    def baselines(self) -> BaselinesFile | None:
        """``baselines.json``, or None before the baselines were evaluated."""
        if not self.file(BASELINES).is_file():
            return None
        return BaselinesFile.from_dict(self.read_json(BASELINES))

    def heldout(self) -> DiscoverHeldout | OptimizerHeldout | None:
        """``heldout.json`` as the record of the command that wrote it (discover's or
        the optimiser's), or None before the held-out evaluation."""
        if not self.file(HELDOUT).is_file():
            return None
        return read_heldout(self.read_json(HELDOUT))

    def transfer(self) -> TransferFile | None:
        """``transfer.json`` (discover's held-out phase), or None before it."""
        if not self.file(TRANSFER).is_file():
            return None
        return TransferFile.from_dict(self.read_json(TRANSFER))

    @contextmanager
    def new_round(self, number: int) -> Iterator[Path]:
        """A temporary folder for round ``number``; discarded unless :meth:`commit` ran."""
        tmp = self.rounds_dir / f".tmp-{number:04d}"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        try:
            yield tmp
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def commit(self, number: int, tmp: Path, summary: RoundEntry) -> Path:
        """Seal round ``number``: write its summary, rename into place, append the index.

        Messages written while the round was built (a sandbox error naming the
        candidate's file, say) name the temporary folder, which is gone once the
        round is sealed: they are rewritten to name the final one.
        """
        final = self.round_dir(number)
        if final.exists():
            raise UsageError(f"round {number} already exists in {self.rounds_dir}")
        for pattern in _TEXT_FILES:
            for path in tmp.glob(pattern):
                text = path.read_text(encoding="utf-8")
                if str(tmp) in text:
                    write_text_atomic(path, text.replace(str(tmp), str(final)))
        write_json_atomic(tmp / ROUND_SUMMARY, summary.to_dict())
        _fsync_dir(tmp)
        os.rename(tmp, final)
        _fsync_dir(self.rounds_dir)
        self._append_index(summary)
        return final

    def _append_index(self, summary: RoundEntry) -> None:
        line = json.dumps(summary.to_dict(), ensure_ascii=False, separators=(",", ":")) + "\n"
        # Start on a fresh line if a previous append was torn by a crash.
        prefix = ""
        if self.index_path.is_file() and self.index_path.stat().st_size:
            with self.index_path.open("rb") as handle:
                handle.seek(-1, os.SEEK_END)
                if handle.read(1) != b"\n":
                    prefix = "\n"
        with self.index_path.open("a", encoding="utf-8") as handle:
            handle.write(prefix + line)
            handle.flush()
            os.fsync(handle.fileno())

    def round_json(self, number: int, name: str) -> Any:
        return self.read_json(f"rounds/{number:04d}/{name}")

    def round_text(self, number: int, name: str) -> str:
        path = self.round_dir(number) / name
        return path.read_text(encoding="utf-8") if path.is_file() else ""
