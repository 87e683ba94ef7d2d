"""``table --methods``: a row's name in any case, spacing or spelling of β; the closest
row suggested first."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from autotts.cli.table_cmd import method_label
from autotts.errors import UsageError


@pytest.mark.parametrize(
    ("given", "label"),
    [
        ("CMC β=0.5", "CMC β=0.5"),
        ("CMC beta=0.5", "CMC β=0.5"),
        ("cmc β=0.5", "CMC β=0.5"),
        ("cmc  beta = .5", "CMC β=0.5"),
        ("CMC β=1", "CMC β=1.0"),
        ("sc@64", "SC@64"),
        ("SC 64", "SC@64"),
        ("parallel probe", "Parallel-Probe"),
        ("PARALLEL_PROBE", "Parallel-Probe"),
        ("swc beta=1.0", "SWC β=1.0"),
        ("asc", "ASC"),
    ],
)
def test_variants_name_the_row(given: str, label: str) -> None:
    assert method_label(given) == label


@pytest.mark.parametrize(
    ("given", "first"),
    [("cmc b=.5", "CMC β=0.5"), ("cmc β=0.4", "CMC β=0.5"), ("parallelprob", "Parallel-Probe")],
)
def test_an_unknown_row_suggests_the_closest_first(given: str, first: str) -> None:
    with pytest.raises(UsageError) as caught:
        method_label(given)
    assert f"did you mean {first!r}" in str(caught.value)


def test_the_command_takes_a_variant() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "autotts.cli.main", "table", "--data", "synthetic", "--methods",
         "cmc beta=0.5,sc 64", "--seeds", "2", "--json", "-q", "-w", "1"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert {row["method"] for row in json.loads(done.stdout)} == {"CMC β=0.5", "SC@64"}
