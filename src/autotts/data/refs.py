"""Naming replay files: a reference to one file, and the files of a store a user picks
by model and benchmark names (the CLI's ``--data``/``-m``/``-B``, and
:func:`autotts.discover`'s arguments)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from autotts.data.catalog import SYNTHETIC, list_store, resolve_data_dir
from autotts.data.synthetic import synthetic_replay_sets
from autotts.errors import UnknownName, UsageError

__all__ = ["DataRef", "data_refs", "split_names"]


@dataclass(frozen=True)
class DataRef:
    """One replay file: ``<store>/<model>/<benchmark>.json``, or the synthetic store."""

    store: str
    model: str
    benchmark: str
    #: "string" (reference protocol) or "equivalence" (see autotts.data.equivalence)
    answers: str = "string"

    @property
    def path(self) -> Path:
        return Path(self.store) / self.model / f"{self.benchmark}.json"


def split_names(values: Sequence[str] | None) -> list[str]:
    """Accept repeated options and comma-separated lists alike."""
    names: list[str] = []
    for value in values or []:
        names += [v.strip() for v in value.split(",") if v.strip()]
    return names


def data_refs(
    data: str | None,
    models: Sequence[str] | None = None,
    benchmarks: Sequence[str] | None = None,
) -> list[DataRef]:
    """The replay files of a store, filtered by model and benchmark names."""
    if data == SYNTHETIC:
        available = [(r.model, r.benchmark) for r in synthetic_replay_sets()]
        store = SYNTHETIC
    else:
        path = resolve_data_dir(data)
        available = [(f.model, f.benchmark) for f in list_store(path)]
        store = str(path)
        if not available:
            raise UsageError(
                f"no replay files (<model>/<benchmark>.json) in {path}; run 'autotts data "
                f"download' or pass '--data {SYNTHETIC}'"
            )
    wanted_models = split_names(models)
    wanted_benchmarks = split_names(benchmarks)
    for name in wanted_models:
        if name not in {m for m, _ in available}:
            raise UnknownName("model", name, {m for m, _ in available})
    for name in wanted_benchmarks:
        if name not in {b for _, b in available}:
            raise UnknownName("benchmark", name, {b for _, b in available})
    return [
        DataRef(store, m, b)
        for m, b in available
        if (not wanted_models or m in wanted_models)
        and (not wanted_benchmarks or b in wanted_benchmarks)
    ]
