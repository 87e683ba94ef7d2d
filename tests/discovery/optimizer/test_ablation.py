"""Ablation: variants switch exactly one part to neutral; the CLI prints a table per set."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace

from autotts.controllers.composable.builtins import cmc_parts, sc_parts
from autotts.data.synthetic import synthetic_replay_sets
from autotts.discovery.optimizer.ablation import ablate, variants


def test_variants_change_one_part_each() -> None:
    found = variants(cmc_parts)
    assert list(found) == ["full", "no widen", "no prune", "no stop", "no aligned bursts"]
    full = cmc_parts(1.0)
    assert found["no widen"](1.0) == replace(full, widen="never")
    assert found["no aligned bursts"](1.0) == replace(full, burst_aligned=1)
    assert list(variants(sc_parts)) == ["full"]  # SC has no part to switch off


def test_ablate_rows_and_curves() -> None:
    replays = [r for r in synthetic_replay_sets() if r.benchmark == "aime24"]
    rows, curves = ablate(cmc_parts, {"search": replays}, betas=[0.0, 0.5, 1.0], seeds=2)
    assert [r["variant"] for r in rows] == list(variants(cmc_parts))
    full = rows[0]
    assert full["Δauc"] == 0.0 and full["acc@full β=1 tokens"] is not None
    assert all(len(points) == 3 for points in curves["search"].values())
    # without its stop rule CMC reads more: the same β costs at least as many tokens
    no_stop = next(r for r in rows if r["variant"] == "no stop")
    assert no_stop["tokens β=1"] >= full["tokens β=1"]


def test_ablate_cli_rejects_a_non_composed_controller() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "autotts.cli.main", "ablate", "nope", "--data", "synthetic"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode != 0 and "Traceback" not in done.stderr
    assert "not a composed controller" in done.stderr
