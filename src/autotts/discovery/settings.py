"""The settings of a run, fixed in ``run.json`` when it starts.

The search set and the held-out set are separate fields on purpose: the search
phase is handed :attr:`DiscoverySettings.search` only, and the held-out
references are turned into data only by :mod:`autotts.discovery.heldout`, which
refuses to run before ``selection.json`` exists.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from autotts.data.catalog import HELD_OUT_BENCHMARKS, MODELS, SEARCH_BENCHMARK, SYNTHETIC
from autotts.discovery.racing import RULE
from autotts.discovery.selection import RULES
from autotts.errors import UnknownName, UsageError
from autotts.evaluation.interpreters import check_interpreter, interpreter_version
from autotts.evaluation.jobs import DataRef, load_data
from autotts.evaluation.protocols import EvaluationProtocol, protocol_from_name
from autotts.version import __version__

__all__ = [
    "DEFAULT_BETAS",
    "NO_BETA_POINT",
    "DiscoverySettings",
    "proposer_options",
    "resume_conflicts",
    "split_refs",
]

DEFAULT_BETAS = [round(0.1 * i, 10) for i in range(11)]
#: The β a ``--no-beta`` candidate is built with. It is told to ignore β; should it read
#: β anyway, 1 is the accuracy-first end the rules describe.
NO_BETA_POINT = 1.0


def split_refs(
    refs: list[DataRef],
    models: list[str] | None = None,
    search_benchmarks: list[str] | None = None,
    heldout_benchmarks: list[str] | None = None,
    *,
    search_models: list[str] | None = None,
    heldout_models: list[str] | None = None,
) -> tuple[list[DataRef], list[DataRef]]:
    """Search and held-out files of a store (defaults: AIME24 vs AIME25 + HMMT25).

    ``models`` names the models of both sets; ``search_models`` and ``heldout_models``
    override it for one set each (transfer across model sizes). Models default to the
    four public ones where the store has them, else all. The held-out set is every file
    of a held-out model on a search or held-out benchmark that is not a search file: with
    the same models on both sides that is the held-out benchmarks alone, and a model the
    search never saw is held out on the search benchmarks too.
    """
    available = sorted({r.model for r in refs}, key=lambda m: (m not in MODELS, m))
    default = models or ([m for m in available if m in MODELS] or available)
    search_m = search_models or default
    held_m = heldout_models or default
    for name in (*search_m, *held_m):
        if name not in available:
            raise UnknownName("model", name, available)
    search_b = search_benchmarks or [SEARCH_BENCHMARK]
    held_b = heldout_benchmarks or list(HELD_OUT_BENCHMARKS)
    overlap = set(search_b) & set(held_b)
    if overlap:
        raise UsageError(
            f"benchmark {sorted(overlap)[0]!r} is in both the search and held-out sets"
        )
    # Absolute store paths, so that --resume works from any folder.
    refs = [
        r if r.store == SYNTHETIC else replace(r, store=str(Path(r.store).resolve())) for r in refs
    ]
    search = [r for r in refs if r.model in search_m and r.benchmark in search_b]
    searched = {(r.model, r.benchmark) for r in search}
    heldout = [
        r
        for r in refs
        if r.model in held_m
        and (r.benchmark in held_b or r.benchmark in search_b)
        and (r.model, r.benchmark) not in searched
    ]
    if not search:
        raise UsageError(
            f"no search files ({', '.join(search_b)}) for models {', '.join(search_m)}"
        )
    return search, heldout


@dataclass
class DiscoverySettings:
    search: list[DataRef]
    heldout: list[DataRef]
    betas: list[float] = field(default_factory=lambda: list(DEFAULT_BETAS))
    protocol_args: dict[str, Any] = field(default_factory=lambda: {"name": "reference"})
    rounds: int = 5
    select: str = "accuracy"
    max_cost: float | None = None
    max_time: float | None = None
    heldout_seeds: int = 100
    digest_seeds: int = 1
    check_seeds: int = 1
    #: race each candidate's curve against the best round so far (discovery/racing.py)
    race: bool = False
    #: what runs a candidate file's untraced cells (autotts.evaluation.interpreters)
    interpreter: str = "cpython"
    #: ablation ``--no-trace-digest``: the proposer sees curves but no trace digest (none
    #: is computed, of the baselines or of any round)
    no_trace_digest: bool = False
    #: ablation ``--no-beta``: candidates are one fixed setting with no β knob, evaluated
    #: at the one point :data:`NO_BETA_POINT`; the check's monotonicity test is skipped
    no_beta: bool = False

    def __post_init__(self) -> None:
        if self.rounds < 1:
            raise UsageError(f"--rounds must be >= 1, got {self.rounds}")
        if not self.betas:
            raise UsageError("the β grid is empty")
        if self.select not in RULES:
            raise UnknownName("selection rule", self.select, RULES)
        if self.race and self.select != "accuracy":
            raise UsageError("--race stops candidates by the accuracy rule: use --select accuracy")
        names = {(r.store, r.model, r.benchmark) for r in self.search}
        if names & {(r.store, r.model, r.benchmark) for r in self.heldout}:
            raise UsageError("a file cannot be in both the search and the held-out set")
        check_interpreter(self.interpreter)

    @property
    def candidate_betas(self) -> list[float]:
        """The β values a candidate's curve is evaluated at: the grid, or with ``no_beta``
        the one point (the baselines keep the whole grid either way)."""
        return [NO_BETA_POINT] if self.no_beta else list(self.betas)

    @property
    def ablations(self) -> dict[str, bool]:
        return {"no_trace_digest": self.no_trace_digest, "no_beta": self.no_beta}

    @property
    def protocol(self) -> EvaluationProtocol:
        args = dict(self.protocol_args)
        return protocol_from_name(args.pop("name"), **args)

    def to_run_json(self, proposer: dict[str, Any]) -> dict[str, Any]:
        """``run.json``; reads the search files (for their SHA-256), never the held-out ones."""
        return {
            "autotts_version": __version__,
            "mode": proposer.get("kind", ""),
            "proposer": proposer,
            "started": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "search": [{**_ref_dict(r), "sha256": load_data(r).sha256} for r in self.search],
            "heldout": [_ref_dict(r) for r in self.heldout],
            "betas": list(self.betas),
            "protocol": self.protocol.to_dict(),
            "protocol_args": dict(self.protocol_args),
            "limits": {
                "rounds": self.rounds,
                "max_cost": self.max_cost,
                "max_time": self.max_time,
            },
            "select": self.select,
            "heldout_seeds": self.heldout_seeds,
            "digest_seeds": self.digest_seeds,
            "check_seeds": self.check_seeds,
            **({"race": {"rule": _race_rule()}} if self.race else {}),
            "interpreter": self.interpreter,
            "interpreter_version": _interpreter_version(self.interpreter),
            # The sets' models, spelled out (transfer runs search on some, hold out others).
            "models": {
                "search": _models(self.search),
                "heldout": _models(self.heldout),
            },
            "ablations": self.ablations,
            **({"no_beta_point": NO_BETA_POINT} if self.no_beta else {}),
        }

    @classmethod
    def from_run_json(cls, run: dict[str, Any]) -> DiscoverySettings:
        limits = run.get("limits", {})
        return cls(
            search=[_ref(d) for d in run["search"]],
            heldout=[_ref(d) for d in run["heldout"]],
            betas=list(run["betas"]),
            protocol_args=dict(run["protocol_args"]),
            rounds=int(limits.get("rounds", 5)),
            select=run.get("select", "accuracy"),
            max_cost=limits.get("max_cost"),
            max_time=limits.get("max_time"),
            heldout_seeds=int(run.get("heldout_seeds", 100)),
            digest_seeds=int(run.get("digest_seeds", 1)),
            check_seeds=int(run.get("check_seeds", 1)),
            race="race" in run,
            interpreter=str(run.get("interpreter", "cpython")),
            no_trace_digest=bool(run.get("ablations", {}).get("no_trace_digest", False)),
            no_beta=bool(run.get("ablations", {}).get("no_beta", False)),
        )


def _models(refs: list[DataRef]) -> list[str]:
    return sorted({r.model for r in refs})


def _interpreter_version(interpreter: str) -> str:
    return interpreter_version(interpreter)


def _race_rule() -> str:
    return RULE


def _ref_dict(ref: DataRef) -> dict[str, str]:
    return {"store": ref.store, "model": ref.model, "benchmark": ref.benchmark}


def _ref(d: dict[str, Any]) -> DataRef:
    return DataRef(d["store"], d["model"], d["benchmark"])


def proposer_options(run: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The proposer kind and the options that build it again, from ``run.json``: a resume
    needs no proposer flags (``--candidates``, ``--llm-model``, ...)."""
    recorded: dict[str, Any] = run.get("proposer", {})
    kind = str(recorded.get("kind") or run.get("mode", ""))
    if kind == "scripted":
        return kind, {"candidates": recorded.get("candidates"), "class_name": recorded.get("class")}
    if kind in ("openai", "anthropic"):
        return kind, {
            "model": recorded.get("model"),
            "base_url": recorded.get("base_url"),
            "api_key_env": recorded.get("api_key_env"),
            "price_in": recorded.get("price_in_per_million"),
            "price_out": recorded.get("price_out_per_million"),
            "context_budget": recorded.get("context_budget_chars"),
            "critic": recorded.get("critic"),
        }
    if kind == "agent":
        return kind, {"command": recorded.get("command"), "timeout": recorded.get("timeout")}
    if kind == "optimizer" and "optimizer" not in run:  # the loop's proposer, not `optimize`
        keys = ("seconds", "sampler", "seed", "replay_seeds", "objective", "metric",
                "fixed_parts", "processes", "top_k")  # fmt: skip
        return kind, {key: recorded[key] for key in keys if key in recorded}
    return kind, {}


#: flag -> how to read its value in run.json
_RECORDED: dict[str, Any] = {
    "--betas": lambda r: [float(b) for b in r["betas"]],
    "--protocol": lambda r: r["protocol_args"].get("name"),
    "--seeds": lambda r: r["protocol_args"].get("seeds"),
    "--draws": lambda r: r["protocol_args"].get("draws"),
    "--size": lambda r: r["protocol_args"].get("size"),
    "--seed": lambda r: r["protocol_args"].get("seed"),
    "--heldout-seeds": lambda r: r.get("heldout_seeds"),
    "--select": lambda r: r.get("select"),
    "--race": lambda r: "race" in r,
    "--interpreter": lambda r: r.get("interpreter", "cpython"),
    "--rounds": lambda r: r.get("limits", {}).get("rounds"),
    "--max-cost": lambda r: r.get("limits", {}).get("max_cost"),
    "--max-time": lambda r: r.get("limits", {}).get("max_time"),
    "--models": lambda r: _recorded_models(r),
    "--search-models": lambda r: sorted({e["model"] for e in r["search"]}),
    "--heldout-models": lambda r: sorted({e["model"] for e in r["heldout"]}),
    "--search-benchmarks": lambda r: sorted({e["benchmark"] for e in r["search"]}),
    # A model held out but never searched is held out on the search benchmarks too.
    "--heldout-benchmarks": lambda r: sorted(
        {e["benchmark"] for e in r["heldout"]} - {e["benchmark"] for e in r["search"]}
    ),
    "--no-trace-digest": lambda r: bool(r.get("ablations", {}).get("no_trace_digest", False)),
    "--no-beta": lambda r: bool(r.get("ablations", {}).get("no_beta", False)),
    "--data": lambda r: r["search"][0]["store"],
}

#: flags whose value is a list of names, compared in any order
_NAME_LISTS = (
    "--models",
    "--search-models",
    "--heldout-models",
    "--search-benchmarks",
    "--heldout-benchmarks",
)

_PROPOSER_FLAGS = {
    "--candidates": "candidates",
    "--class": "class_name",
    "--llm-model": "model",
    "--base-url": "base_url",
    "--api-key-env": "api_key_env",
    "--price-in": "price_in",
    "--price-out": "price_out",
    "--context-budget": "context_budget",
    "--critic": "critic",
    "--agent-cmd": "command",
    "--agent-timeout": "timeout",
    "--search-time": "seconds",
}


def _recorded_models(run: dict[str, Any]) -> Any:
    """What ``--models`` (both sets) stands for in a run: its one list of models, or, when
    the search and held-out models differ, words no ``--models`` value can equal."""
    search = sorted({e["model"] for e in run["search"]})
    heldout = sorted({e["model"] for e in run["heldout"]})
    if not heldout or heldout == search:
        return search
    return f"search models {','.join(search)} and held-out models {','.join(heldout)}"


def resume_conflicts(run: dict[str, Any], given: dict[str, Any]) -> list[str]:
    """The flags given to a resume (``{"--betas": [0.0, 1.0], ...}``, values as run.json
    holds them) that differ from the run's settings, each as ``--flag: VALUE, the run
    has RECORDED``. A resumed run keeps its settings: a changed one would be ignored (a
    curve on another β grid would not be comparable with the rounds already run)."""
    kind, options = proposer_options(run)
    conflicts = []
    for flag, value in given.items():
        if flag == "--proposer":
            recorded: Any = kind
        elif flag in _PROPOSER_FLAGS:
            recorded = options.get(_PROPOSER_FLAGS[flag])
            if flag == "--candidates" and value is not None:
                value = str(Path(value).resolve())
        elif flag in _RECORDED:
            recorded = _RECORDED[flag](run)
        else:
            continue
        if isinstance(value, (list, tuple)) and flag in _NAME_LISTS:
            value = sorted(value)
        if not _same(value, recorded):
            conflicts.append(f"{flag}: {_show(value)}, the run has {_show(recorded)}")
    return conflicts


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool):
        return abs(float(a) - float(b)) < 1e-9
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return bool(a == b)


def _show(value: Any) -> str:
    if isinstance(value, list):
        return ",".join(f"{v:g}" if isinstance(v, float) else str(v) for v in value)
    return "none" if value is None else str(value)
