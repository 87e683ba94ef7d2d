"""A Ray cluster of two nodes (two raylets, two object stores) on this machine.

``ray.cluster_utils.Cluster`` starts the nodes as real Ray processes, as ``ray start``
does on separate machines, so cells land on both nodes and a replay file put once
in the driver's object store reaches the other node's store through Ray's transfer.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from autotts.controllers.registry import ControllerSpec
from autotts.evaluation.executors import run_jobs
from autotts.evaluation.jobs import DataRef, EvalJob
from autotts.evaluation.protocols import ReferenceProtocol
from autotts.scale import RayExecutor
from tests.helpers import same_numbers

ray = pytest.importorskip("ray")

pytestmark = [pytest.mark.ray, pytest.mark.xdist_group("ray")]

ROOT = Path(__file__).resolve().parents[2]
FIRST_AGREEMENT = f"{ROOT / 'examples' / 'first_agreement.py'}:FirstAgreement"


@pytest.fixture(scope="module")
def two_nodes() -> Iterator[str]:
    """A head node and a second node, 1 CPU each; yields the head's address."""
    from ray.cluster_utils import Cluster

    before = os.environ.get("RAY_AUTH_MODE")
    os.environ["RAY_AUTH_MODE"] = "disabled"
    store = 150 * 1024 * 1024
    cluster = Cluster(
        initialize_head=True,
        head_node_args={"num_cpus": 1, "object_store_memory": store, "include_dashboard": False},
    )
    try:
        cluster.add_node(num_cpus=1, object_store_memory=store)
        cluster.wait_for_nodes()
        yield str(cluster.address)
    finally:
        cluster.shutdown()
        if before is None:
            os.environ.pop("RAY_AUTH_MODE", None)
        else:
            os.environ["RAY_AUTH_MODE"] = before


def test_cells_spread_over_two_nodes_give_the_local_numbers(
    two_nodes: str, shared_replay_dir: Path
) -> None:
    refs = [DataRef(str(shared_replay_dir), "Qwen3-1.7B", b) for b in ("aime24", "aime25")]
    jobs = [
        EvalJob(ref, ControllerSpec(name, beta), ReferenceProtocol(40))
        for ref in refs
        for name in ("cmc", "parallel-probe", FIRST_AGREEMENT)  # a file runs sandboxed
        for beta in (0.2, 0.8)
    ]
    executor = RayExecutor(two_nodes, seed_block=10)
    try:
        through_ray = run_jobs(jobs, executor=executor)
        nodes = set(executor.cell_nodes.values())
        assert len(nodes) == 2  # cells of both files ran on both nodes
        assert len(executor.cell_nodes) == len(jobs) * 4  # every cell once
        assert {n for n in executor.cell_nodes.values() if n} == nodes
    finally:
        executor.close()
    local = run_jobs(jobs)
    assert [same_numbers(r.to_dict()) for r in through_ray] == [
        same_numbers(r.to_dict()) for r in local
    ]
