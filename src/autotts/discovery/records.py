"""Typed records of the run directory (docs/run-directory.md).

Each record is a frozen dataclass with ``from_dict`` (tolerant of the shapes older
runs wrote: optional fields may be missing, rounds may count from 0) and
``to_dict``, which gives back the JSON the writers produce, key for key:

* A record built in code writes its fields in the order the discovery loop always
  wrote them, leaving out the optional fields it has no value for (``class`` of a
  round without code, ``raced_out`` unless true, the optimiser's fields elsewhere).
* A record read from a file remembers the file's keys and their order
  (``key_order``): written back, it gives the same keys in the same order (a
  ``null`` that was there stays, a key that was missing stays missing unless the
  field was changed from what its absence reads as), so a read-modify-write
  changes no byte it did not mean to. Keys this module does not know are kept in
  ``extra`` and written after the known ones, in their order.

Values are kept as read (an ``int`` β stays an ``int``), for the same reason.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["AggregatePoint", "CurvePoint", "CurvesFile", "DataRead", "RoundEntry", "Selection"]

#: ``(json key, value as JSON, written when the record was built in code, the value
#: from_dict reads when the key is missing)``
_Item = tuple[str, Any, bool, Any]


def _emit(
    items: Iterable[_Item], extra: Mapping[str, Any], key_order: Sequence[str]
) -> dict[str, Any]:
    """The JSON object of a record: keys read from a file first, in the file's order;
    then the other known keys in canonical order (for a record built in code, those
    it writes; for one read from a file, those changed since); then the other extras."""
    items = list(items)
    values = {key: value for key, value, _, _ in items}
    values.update(extra)
    out = {key: values[key] for key in key_order if key in values}
    for key, value, written, missing in items:
        if key not in out and (value != missing if key_order else written):
            out[key] = value
    for key, value in extra.items():
        out.setdefault(key, value)
    return out


#: What a key ``from_dict`` cannot do without reads as when missing: nothing equals it,
#: so a required field is always written.
_REQUIRED = object()


def _extra(data: Mapping[str, Any], known: Iterable[str]) -> dict[str, Any]:
    names = set(known)
    return {key: value for key, value in data.items() if key not in names}


def _opt_agg(value: Any) -> AggregatePoint | None:
    return None if value is None else AggregatePoint.from_dict(value)


@dataclass(frozen=True)
class AggregatePoint:
    """The mean over the search files at one β (``aggregate``/``best`` of a round)."""

    beta: float | None
    accuracy: float
    tokens: float
    seq_tokens: float
    files: int
    extra: Mapping[str, Any] = field(default_factory=dict)
    key_order: tuple[str, ...] = field(default=(), compare=False, repr=False)

    _KEYS = ("beta", "accuracy", "tokens", "seq_tokens", "files")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AggregatePoint:
        return cls(
            beta=data.get("beta"),
            accuracy=data["accuracy"],
            tokens=data["tokens"],
            seq_tokens=data.get("seq_tokens", data["tokens"]),
            files=data.get("files", 1),
            extra=_extra(data, cls._KEYS),
            key_order=tuple(data),
        )

    def to_dict(self) -> dict[str, Any]:
        return _emit(
            [
                ("beta", self.beta, True, None),
                ("accuracy", self.accuracy, True, _REQUIRED),
                ("tokens", self.tokens, True, _REQUIRED),
                ("seq_tokens", self.seq_tokens, True, self.tokens),
                ("files", self.files, True, 1),
            ],
            self.extra,
            self.key_order,
        )


@dataclass(frozen=True)
class CurvePoint:
    """One (search file, β) evaluation: the keys of an ``autotts table --json`` row plus
    ``beta`` and ``accuracy_ci95``; ``audit`` only in memory (a round moves it to
    ``audits.json``)."""

    model: str
    benchmark: str
    beta: float | None
    accuracy: float
    accuracy_ci95: tuple[float, float] | None
    tokens: float
    seq_tokens: float
    audit: Any = None
    extra: Mapping[str, Any] = field(default_factory=dict)
    key_order: tuple[str, ...] = field(default=(), compare=False, repr=False)

    _KEYS = (
        "model",
        "benchmark",
        "beta",
        "accuracy",
        "accuracy_ci95",
        "tokens",
        "seq_tokens",
        "audit",
    )

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CurvePoint:
        ci = data.get("accuracy_ci95")
        return cls(
            model=data["model"],
            benchmark=data["benchmark"],
            beta=data.get("beta"),
            accuracy=data["accuracy"],
            accuracy_ci95=None if ci is None else (ci[0], ci[1]),
            tokens=data["tokens"],
            seq_tokens=data.get("seq_tokens", data["tokens"]),
            audit=data.get("audit"),
            extra=_extra(data, cls._KEYS),
            key_order=tuple(data),
        )

    def to_dict(self) -> dict[str, Any]:
        ci = None if self.accuracy_ci95 is None else list(self.accuracy_ci95)
        return _emit(
            [
                ("model", self.model, True, _REQUIRED),
                ("benchmark", self.benchmark, True, _REQUIRED),
                ("beta", self.beta, True, None),
                ("accuracy", self.accuracy, True, _REQUIRED),
                ("accuracy_ci95", ci, ci is not None, None),
                ("tokens", self.tokens, True, _REQUIRED),
                ("seq_tokens", self.seq_tokens, True, self.tokens),
                ("audit", self.audit, self.audit is not None, None),
            ],
            self.extra,
            self.key_order,
        )


@dataclass(frozen=True)
class DataRead:
    """A data file a step read, by checksum (``selection.json``'s ``read``)."""

    model: str
    benchmark: str
    sha256: str
    extra: Mapping[str, Any] = field(default_factory=dict)
    key_order: tuple[str, ...] = field(default=(), compare=False, repr=False)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DataRead:
        return cls(
            data["model"],
            data["benchmark"],
            data["sha256"],
            _extra(data, ("model", "benchmark", "sha256")),
            tuple(data),
        )

    def to_dict(self) -> dict[str, Any]:
        return _emit(
            [
                ("model", self.model, True, _REQUIRED),
                ("benchmark", self.benchmark, True, _REQUIRED),
                ("sha256", self.sha256, True, _REQUIRED),
            ],
            self.extra,
            self.key_order,
        )


@dataclass(frozen=True)
class CurvesFile:
    """A round's ``curves.json``. The discovery loop also writes what re-running the
    round needs (``controller``, ``betas``, ``protocol``, ``data``); the optimiser's
    rounds have only the curves."""

    points: tuple[CurvePoint, ...]
    aggregate: tuple[AggregatePoint, ...]
    best: AggregatePoint | None
    controller: str | None = None
    betas: tuple[float, ...] | None = None
    protocol: Mapping[str, Any] | None = None
    data: tuple[Mapping[str, Any], ...] | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)
    key_order: tuple[str, ...] = field(default=(), compare=False, repr=False)

    _KEYS = ("points", "aggregate", "best", "controller", "betas", "protocol", "data")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CurvesFile:
        betas = data.get("betas")
        files = data.get("data")
        return cls(
            points=tuple(CurvePoint.from_dict(p) for p in data.get("points", [])),
            aggregate=tuple(AggregatePoint.from_dict(a) for a in data.get("aggregate", [])),
            best=_opt_agg(data.get("best")),
            controller=data.get("controller"),
            betas=None if betas is None else tuple(betas),
            protocol=data.get("protocol"),
            data=None if files is None else tuple(files),
            extra=_extra(data, cls._KEYS),
            key_order=tuple(data),
        )

    def to_dict(self) -> dict[str, Any]:
        # The loop writes controller (null without code), betas, protocol and data together.
        rerun = self.betas is not None
        return _emit(
            [
                ("points", [p.to_dict() for p in self.points], True, []),
                ("aggregate", [a.to_dict() for a in self.aggregate], True, []),
                ("best", None if self.best is None else self.best.to_dict(), True, None),
                ("controller", self.controller, rerun, None),
                ("betas", None if self.betas is None else list(self.betas), rerun, None),
                ("protocol", None if self.protocol is None else dict(self.protocol), rerun, None),
                ("data", None if self.data is None else [dict(d) for d in self.data], rerun, None),
            ],
            self.extra,
            self.key_order,
        )


@dataclass(frozen=True)
class RoundEntry:
    """One line of ``index.jsonl``, and the round's ``round.json`` (the same object).

    ``rounds`` is the run's round limit (``None`` for the optimiser's rounds);
    ``verdict`` is ``accepted``, ``rejected`` or ``failed``; ``best`` and
    ``aggregate`` are the round's search-set curve (empty unless evaluated). Money,
    proposer tokens and seconds come per round and summed over the run so far. The
    optimiser's rounds add the trials they batch (``trials``, first and last number),
    their ``study``, and the chosen ``trial`` with its scores.
    """

    round: int
    name: str
    verdict: str
    rounds: int | None = None
    class_name: str | None = None
    reason: str | None = None
    raced_out: bool = False
    best: AggregatePoint | None = None
    aggregate: tuple[AggregatePoint, ...] = ()
    money: float = 0.0
    money_total: float = 0.0
    proposer_tokens: int = 0
    proposer_tokens_total: int = 0
    seconds: float | None = None
    seconds_total: float | None = None
    trials: tuple[int, int] | None = None
    study: str | None = None
    trial: int | None = None
    fit_objective: float | None = None
    validation: float | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)
    key_order: tuple[str, ...] = field(default=(), compare=False, repr=False)

    _KEYS = (
        "round",
        "rounds",
        "name",
        "trials",
        "study",
        "trial",
        "fit_objective",
        "validation",
        "class",
        "verdict",
        "reason",
        "raced_out",
        "best",
        "aggregate",
        "money",
        "money_total",
        "proposer_tokens",
        "proposer_tokens_total",
        "seconds",
        "seconds_total",
    )

    @property
    def accepted(self) -> bool:
        return self.verdict == "accepted"

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RoundEntry:
        trials = data.get("trials")
        return cls(
            round=data["round"],
            name=data.get("name", ""),
            verdict=data.get("verdict", "failed"),
            rounds=data.get("rounds"),
            class_name=data.get("class"),
            reason=data.get("reason"),
            raced_out=bool(data.get("raced_out", False)),
            best=_opt_agg(data.get("best")),
            aggregate=tuple(AggregatePoint.from_dict(a) for a in data.get("aggregate") or []),
            money=data.get("money", 0.0),
            money_total=data.get("money_total", 0.0),
            proposer_tokens=data.get("proposer_tokens", 0),
            proposer_tokens_total=data.get("proposer_tokens_total", 0),
            seconds=data.get("seconds"),
            seconds_total=data.get("seconds_total"),
            trials=None if trials is None else (trials[0], trials[1]),
            study=data.get("study"),
            trial=data.get("trial"),
            fit_objective=data.get("fit_objective"),
            validation=data.get("validation"),
            extra=_extra(data, cls._KEYS),
            key_order=tuple(data),
        )

    def to_dict(self) -> dict[str, Any]:
        # The optimiser's fields go where its writer puts them: after the name.
        optimizer = self.trials is not None or self.trial is not None
        return _emit(
            [
                ("round", self.round, True, _REQUIRED),
                ("rounds", self.rounds, True, None),
                ("name", self.name, True, ""),
                (
                    "trials",
                    None if self.trials is None else list(self.trials),
                    self.trials is not None,
                    None,
                ),
                ("study", self.study, self.study is not None, None),
                ("trial", self.trial, self.trial is not None, None),
                ("fit_objective", self.fit_objective, optimizer, None),
                ("validation", self.validation, optimizer, None),
                ("class", self.class_name, self.class_name is not None, None),
                ("verdict", self.verdict, True, "failed"),
                ("reason", self.reason, True, None),
                ("raced_out", self.raced_out, self.raced_out, False),
                ("best", None if self.best is None else self.best.to_dict(), True, None),
                ("aggregate", [a.to_dict() for a in self.aggregate], True, []),
                ("money", self.money, True, 0.0),
                ("money_total", self.money_total, True, 0.0),
                ("proposer_tokens", self.proposer_tokens, True, 0),
                ("proposer_tokens_total", self.proposer_tokens_total, True, 0),
                ("seconds", self.seconds, self.seconds is not None, None),
                ("seconds_total", self.seconds_total, self.seconds_total is not None, None),
            ],
            self.extra,
            self.key_order,
        )


@dataclass(frozen=True)
class Selection:
    """``selection.json``: the chosen round and β and the rule that chose them.

    ``round`` and ``beta`` are ``None`` when nothing could be chosen. The score fields
    are the discovery rules'; the optimiser's own (β per CMC budget, its searches,
    the schedule, ...) stay in ``extra`` with ``trial`` the one read by name.
    """

    round: int | None
    beta: float | None
    rule: str
    name: str | None = None
    class_name: str | None = None
    objective: str | None = None
    score: float | None = None
    search_accuracy: float | None = None
    search_tokens: float | None = None
    trial: int | None = None
    read: tuple[DataRead, ...] | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)
    key_order: tuple[str, ...] = field(default=(), compare=False, repr=False)

    _KEYS = (
        "round",
        "name",
        "beta",
        "rule",
        "objective",
        "score",
        "search_accuracy",
        "search_tokens",
        "class",
        "trial",
        "read",
    )

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Selection:
        read = data.get("read")
        return cls(
            round=data.get("round"),
            beta=data.get("beta"),
            rule=data.get("rule", "accuracy"),
            name=data.get("name"),
            class_name=data.get("class"),
            objective=data.get("objective"),
            score=data.get("score"),
            search_accuracy=data.get("search_accuracy"),
            search_tokens=data.get("search_tokens"),
            trial=data.get("trial"),
            read=None if read is None else tuple(DataRead.from_dict(r) for r in read),
            extra=_extra(data, cls._KEYS),
            key_order=tuple(data),
        )

    def to_dict(self) -> dict[str, Any]:
        read = None if self.read is None else [r.to_dict() for r in self.read]
        return _emit(
            [
                ("round", self.round, True, None),
                ("name", self.name, self.name is not None, None),
                ("beta", self.beta, True, None),
                ("rule", self.rule, True, "accuracy"),
                ("objective", self.objective, self.objective is not None, None),
                ("score", self.score, self.score is not None, None),
                ("search_accuracy", self.search_accuracy, self.search_accuracy is not None, None),
                ("search_tokens", self.search_tokens, self.search_tokens is not None, None),
                ("class", self.class_name, self.class_name is not None, None),
                ("trial", self.trial, self.trial is not None, None),
                ("read", read, read is not None, None),
            ],
            self.extra,
            self.key_order,
        )
