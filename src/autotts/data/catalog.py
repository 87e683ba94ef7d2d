"""Where replay data lives: the public files, their checksums, and the local store.

A replay *store* is a folder laid out like the public data:
``<store>/<model>/<benchmark>.json``. Which store a command uses is resolved
in one place, :func:`resolve_data_dir`: ``--data DIR``, else ``$AUTOTTS_DATA``,
else the default download destination.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from autotts.errors import UsageError

__all__ = [
    "BENCHMARKS",
    "HELD_OUT_BENCHMARKS",
    "MODELS",
    "PUBLIC_URL_TEMPLATE",
    "SEARCH_BENCHMARK",
    "SYNTHETIC",
    "ReplayFile",
    "default_data_dir",
    "list_store",
    "public_checksums",
    "resolve_data_dir",
]

MODELS = ("Qwen3-0.6B", "Qwen3-1.7B", "Qwen3-4B", "Qwen3-8B")
BENCHMARKS = ("aime24", "aime25", "hmmt25")
#: AIME24 is where controllers are designed and selected; the others are held out.
SEARCH_BENCHMARK = "aime24"
HELD_OUT_BENCHMARKS = ("aime25", "hmmt25")

PUBLIC_URL_TEMPLATE = (
    "https://raw.githubusercontent.com/zhengkid/AutoTTS/main/"
    "efficient_reasoning_controller/test_environment/{model}/{benchmark}.json"
)

#: Value of ``--data`` that selects the built-in synthetic store.
SYNTHETIC = "synthetic"

ENV_VAR = "AUTOTTS_DATA"


@dataclass(frozen=True)
class ReplayFile:
    model: str
    benchmark: str
    path: Path


def public_checksums() -> dict[str, str]:
    """``{"<model>/<benchmark>.json": sha256}`` for the twelve public files."""
    text = resources.files("autotts.data").joinpath("checksums.txt").read_text("utf-8")
    sums: dict[str, str] = {}
    for line in text.splitlines():
        if line.strip():
            digest, name = line.split(maxsplit=1)
            sums[name.strip()] = digest
    return sums


def default_data_dir() -> Path:
    """The download destination: ``$XDG_DATA_HOME/autotts/replay`` (``~/.local/share/...``)."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "autotts" / "replay"


def resolve_data_dir(data: str | None) -> Path:
    """``--data`` if given, else ``$AUTOTTS_DATA``, else the download destination."""
    chosen = data or os.environ.get(ENV_VAR) or str(default_data_dir())
    return Path(chosen).expanduser()


def list_store(store: Path) -> list[ReplayFile]:
    """Every ``<model>/<benchmark>.json`` in a store, public models and benchmarks first."""
    if not store.is_dir():
        raise UsageError(
            f"data folder {store} does not exist; fetch the public replay files with "
            f"'autotts data download', or use '--data {SYNTHETIC}' for the built-in synthetic set"
        )
    found = [
        ReplayFile(model=path.parent.name, benchmark=path.stem, path=path)
        for path in store.glob("*/*.json")
    ]
    return sorted(found, key=lambda f: (_rank(f.model, MODELS), _rank(f.benchmark, BENCHMARKS)))


def _rank(name: str, known: tuple[str, ...]) -> tuple[int, str]:
    return (known.index(name) if name in known else len(known), name)
