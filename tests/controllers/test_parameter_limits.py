"""Every built-in's numeric parameters, pushed to the edge: a value the controller cannot
work with is refused by name, never run to "0 % at 0 tokens" or a crash."""

from __future__ import annotations

import subprocess
import sys

import pytest

from autotts.cli.common import data_refs
from autotts.controllers.registry import REGISTRY, ControllerSpec, build
from autotts.errors import UsageError
from autotts.evaluation.jobs import EvalJob, evaluate
from autotts.evaluation.protocols import protocol_from_name

EDGES = [
    (name, key, value)
    for name, entry in REGISTRY.items()
    for key, default in entry.cls().params().items()
    if key != "beta" and isinstance(default, (int, float)) and not isinstance(default, bool)
    for value in ([0, -1] if isinstance(default, int) else [-0.5, 0.0, 1.5])
]


@pytest.mark.parametrize(("name", "key", "value"), EDGES, ids=lambda v: str(v))
def test_an_edge_value_is_refused_by_name_or_gives_a_real_result(
    name: str, key: str, value: float
) -> None:
    spec = ControllerSpec(name, None, {key: value})
    try:
        build(spec)
    except UsageError as exc:
        assert key in str(exc) and name in str(exc)
        return
    result = evaluate(
        EvalJob(data_refs("synthetic")[0], spec, protocol_from_name("reference", seeds=2))
    )
    assert result.metrics.accuracy > 0 and result.metrics.tokens > 0, (name, key, value)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("cmc:n_init=0", "cmc: n_init must be >= 1, got 0"),
        ("cmc:ema_alpha=1.5", "cmc: ema_alpha must be in [0, 1], got 1.5"),
        ("swc:T_ema=-1", "swc: T_ema must be >= 1, got -1"),
        ("swc:burst_other=-1", "swc: burst_other must be >= 0, got -1"),
        ("parallel-probe:max_steps=0", "parallel-probe: max_steps must be >= 1, got 0"),
    ],
)
def test_the_command_says_which_parameter_and_why(spec: str, message: str) -> None:
    name, param = spec.split(":")
    done = subprocess.run(
        [sys.executable, "-m", "autotts.cli.main", "eval", "--data", "synthetic", "-c", name,
         "-p", param],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.strip() == f"error: {message}"
