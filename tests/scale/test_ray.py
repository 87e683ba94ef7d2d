"""The Ray executor on a real local Ray cluster that these tests start themselves.

One cluster (2 CPUs) is started for the module, in this process; the CLI tests join
it by address from their own processes, as a user joins an existing cluster.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import closing
from dataclasses import replace
from pathlib import Path

import pytest

from autotts.controllers.registry import ControllerSpec
from autotts.discovery.curves import curve_jobs
from autotts.discovery.racing import MIN_SEEDS, race_curves
from autotts.errors import CandidateRejected
from autotts.evaluation.cells import plan_cells
from autotts.evaluation.executors import run_jobs
from autotts.evaluation.jobs import DataRef, EvalJob, evaluate, load_data
from autotts.evaluation.protocols import ReferenceProtocol
from autotts.evaluation.runner import EpisodeRecord
from autotts.sandbox import SandboxLimits, available_layers
from autotts.scale import RayExecutor
from tests.helpers import same_numbers, without_audit, without_audits
from tests.sandbox.conftest import descendants, own_descendants

ray = pytest.importorskip("ray")

pytestmark = [pytest.mark.ray, pytest.mark.xdist_group("ray")]

ROOT = Path(__file__).resolve().parents[2]
FIRST_AGREEMENT = f"{ROOT / 'examples' / 'first_agreement.py'}:FirstAgreement"
HOSTILE = ROOT / "tests" / "sandbox" / "hostile"
CELL_TITLE = "ray::autotts-cell-"


@pytest.fixture(scope="module")
def cluster() -> Iterator[str]:
    """A local Ray cluster with 2 CPUs (token auth off: local tests); yields its address."""
    before = os.environ.get("RAY_AUTH_MODE")
    os.environ["RAY_AUTH_MODE"] = "disabled"
    executor = RayExecutor(num_cpus=2)
    executor.connect()
    try:
        yield str(ray.get_runtime_context().gcs_address)
    finally:
        executor.close()
        # A test that failed half-way may leave a Ray worker running a cell; it must not
        # linger below this process (other tests count their descendants).
        for pid in own_descendants():
            if process_title(pid).startswith("ray::"):
                os.kill(pid, signal.SIGKILL)
        if before is None:
            os.environ.pop("RAY_AUTH_MODE", None)
        else:
            os.environ["RAY_AUTH_MODE"] = before


def process_title(pid: int) -> str:
    """A process's title (Ray names a worker after the task it runs); "" once it is gone."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0].decode()
    except OSError:
        return ""


def busy_cell_workers() -> dict[int, str]:
    """pid -> process title of every worker of this module's cluster running a cell now.

    Only this process's descendants count: other xdist workers may run Ray clusters of
    their own, and their cells carry the same kind of title.
    """
    titles = {pid: process_title(pid) for pid in own_descendants()}
    return {pid: title for pid, title in titles.items() if title.startswith(CELL_TITLE)}


def cell_key(title: str) -> tuple[int, int]:
    """(job, first seed) of the cell a worker's title names."""
    job, start = (int(x) for x in title.removeprefix(CELL_TITLE).split("-"))
    return job, start


def wait_until_no_cell_runs(timeout: float = 120.0) -> set[str]:
    """Wait for every cell worker to go idle; returns the titles of the cells seen running.

    The timeout is generous because the claim is that cells *end*, not how fast: on a
    loaded 2-core CI machine a sandboxed, audited cell has taken over 30 s to finish.
    """
    seen: set[str] = set()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        busy = busy_cell_workers()
        if not busy:
            break
        seen.update(busy.values())
        time.sleep(0.2)
    return seen


def autotts(*args: str, **kwargs: object) -> list[str]:
    return [sys.executable, "-m", "autotts.cli.main", *args]


def cli_env() -> dict[str, str]:
    return {**os.environ, "RAY_AUTH_MODE": "disabled"}


def run_cli(command: list[str], *, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run an autotts command as a user would, joining the test cluster when asked to."""
    return subprocess.run(
        command, capture_output=True, text=True, timeout=300, env=cli_env(), check=check
    )


def on_ray(command: list[str], cluster: str) -> list[str]:
    return [*command, "--executor", "ray", "--address", cluster]


def test_table_through_ray_equals_the_local_table(cluster: str, shared_replay_dir: Path) -> None:
    # One model × three benchmarks × six methods = 18 rows, 72 cells of 25 seeds.
    table = autotts("table", "--data", str(shared_replay_dir), "-m", "Qwen3-1.7B", "--json", "-q")
    local = run_cli([*table, "--workers", "2"])
    remote = run_cli(on_ray(table, cluster))
    assert remote.stdout.count('"method"') == 18
    assert remote.stdout == local.stdout  # every row, metric and provenance field


def test_sigkill_of_a_ray_worker_mid_sweep_still_gives_every_result_once(
    cluster: str, shared_replay_dir: Path
) -> None:
    ref = DataRef(str(shared_replay_dir), "Qwen3-4B", "aime24")
    jobs = [
        EvalJob(ref, ControllerSpec(FIRST_AGREEMENT, beta, trusted=True), ReferenceProtocol(60))
        for beta in (0.25, 0.75)
    ]
    local = run_jobs(jobs)
    ours = {(job, start) for job in (0, 1) for start in (0, 20, 40)}
    wait_until_no_cell_runs()
    killed: dict[int, str] = {}

    def kill_one_busy_worker(done: int, total: int) -> None:
        # After the first cell, while the others run: a real SIGKILL of a busy worker.
        if killed:
            return
        for pid, title in busy_cell_workers().items():
            if cell_key(title) not in ours:
                continue
            os.kill(pid, signal.SIGKILL)
            killed[pid] = title
            return

    executor = RayExecutor(seed_block=20, progress=kill_one_busy_worker)
    recorded: list[int] = []
    results = run_jobs(jobs, executor=executor, on_done=lambda i, r: recorded.append(i))
    assert killed, "no cell was running when the first one finished"
    assert sorted(recorded) == [0, 1]  # every job recorded exactly once
    assert [r.to_dict() for r in results] == [r.to_dict() for r in local]
    assert len(executor.cell_pids) == 6  # 2 jobs × 3 seed blocks, each kept once
    ((pid, title),) = killed.items()
    # The killed worker's cell was computed again, by another process.
    assert executor.cell_pids[cell_key(title)] != pid


def test_controller_files_run_in_the_sandbox_inside_ray_workers(
    cluster: str, tmp_path: Path
) -> None:
    ref = DataRef("synthetic", "Synth-Small", "aime24")
    honest = EvalJob(ref, ControllerSpec(FIRST_AGREEMENT, 0.5), ReferenceProtocol(8), "fa")
    executor = RayExecutor(seed_block=3)
    (through_ray,) = run_jobs([honest], executor=executor)
    (here,) = run_jobs([honest])
    assert without_audit(through_ray.to_dict()) == without_audit(here.to_dict())
    assert through_ray.controller["sandbox"]  # the isolation layers that ran it


def sandboxed_children(pid: int) -> set[int]:
    """The sandboxed controller workers a process started (bubblewrap or the worker itself).

    A worker starts through the boot script (``autotts/sandbox/pypy_boot.py``, on CPython
    as on PyPy; see ``autotts.sandbox.layers.worker_command``), not ``-m``."""
    return {
        child
        for child in descendants(pid)
        if parent_of(child) == pid and _WORKER_BOOT in full_command(child)
    }


_WORKER_BOOT = "/autotts/sandbox/pypy_boot.py"


def parent_of(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except OSError:
        return 0


def full_command(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def test_a_ray_worker_keeps_its_sandboxed_worker_from_cell_to_cell(cluster: str) -> None:
    """As a local pool process does: the next cell of the same candidate in that Ray worker
    process reuses its sandboxed worker (no new process per cell), with the same numbers."""
    ref = DataRef("synthetic", "Synth-Small", "aime24")
    kept: list[dict[int, set[int]]] = []
    for beta in (0.5, 1.0):
        job = EvalJob(ref, ControllerSpec(FIRST_AGREEMENT, beta), ReferenceProtocol(6))
        executor = RayExecutor(seed_block=1)
        (through_ray,) = run_jobs([job], executor=executor)
        assert without_audit(through_ray.to_dict()) == without_audit(run_jobs([job])[0].to_dict())
        ray_workers = set(executor.cell_pids.values())
        assert len(ray_workers) < len(executor.cell_pids) == 6  # several cells per worker
        kept.append({pid: sandboxed_children(pid) for pid in ray_workers})
    # One kept sandboxed worker each for the cells, and at most one more: the audit's
    # shadow worker (autotts.evaluation.kept_workers.run_shadow), kept apart from it.
    for pid, children in (*kept[0].items(), *kept[1].items()):
        assert 1 <= len(children) <= 2, (pid, children)
    # A Ray worker that ran cells of both sweeps ran them all in one sandboxed worker (the
    # shadow worker is replaced once it has audited a cell of the same data file).
    both = kept[0].keys() & kept[1].keys()
    assert both
    for pid in both:
        assert kept[0][pid] & kept[1][pid], (pid, kept)


@pytest.mark.skipif(shutil.which("pypy3") is None, reason="pypy3 is not installed")
def test_a_file_on_pypy_workers_through_ray_gives_the_local_cpython_numbers(
    cluster: str, tmp_path: Path
) -> None:
    ref = DataRef("synthetic", "Synth-Small", "aime24")
    spec = ControllerSpec(FIRST_AGREEMENT, 0.5)
    on_pypy = EvalJob(ref, spec, ReferenceProtocol(8), "fa", interpreter="pypy")
    (through_ray,) = run_jobs([on_pypy], executor=RayExecutor(seed_block=3))
    (here,) = run_jobs([EvalJob(ref, spec, ReferenceProtocol(8), "fa")])
    assert through_ray.metrics == here.metrics
    ray_record, local_record = through_ray.to_dict(), here.to_dict()
    assert same_numbers(ray_record) == same_numbers(local_record)
    assert ray_record["controller"]["interpreter"] == "pypy"
    # That PyPy really ran the cells in the Ray workers: a file that answers wrongly on
    # PyPy, but only after a cell's first replicate (the CPython agreement sample), so
    # the sample agrees and PyPy's numbers count (lower) -- unless a cell's audit replays a
    # seed in a fresh PyPy worker, which has not played a replicate yet and answers
    # rightly: its play depends on its process, so it is rejected; only PyPy causes either.
    questions = len(load_data(ref))
    tell = tmp_path / "pypy_tell.py"
    tell.write_text(
        "import sys\n\nfrom autotts import Controller\n\nseen = [0]\n\n\n"
        "class PyPyTell(Controller):\n"
        "    def __init__(self, beta=0.5):\n        self.beta = beta\n\n"
        "    def solve(self, session):\n        seen[0] += 1\n"
        "        answer = session.full_read()\n"
        f"        if seen[0] > {questions} and sys.implementation.name == 'pypy':\n"
        "            return 'not the answer'\n"
        "        return answer\n"
    )
    job = EvalJob(ref, ControllerSpec(str(tell), 0.5), ReferenceProtocol(4), "p")
    (on_cpython,) = run_jobs([job], executor=RayExecutor(seed_block=2))
    assert on_cpython.metrics.accuracy > 0
    try:  # each cell is audited or not, by the Ray worker's own key
        (on_pypy,) = run_jobs(
            [replace(job, interpreter="pypy")], executor=RayExecutor(seed_block=2)
        )
    except CandidateRejected as caught:
        assert caught.reason == "nondeterministic"
        assert "'<not a label: not the answer>'" in caught.detail
    else:
        assert on_pypy.metrics.tokens == on_cpython.metrics.tokens
        assert on_pypy.metrics.accuracy < on_cpython.metrics.accuracy


@pytest.mark.parametrize("name", ["write_file", "read_replay"])
def test_hostile_files_are_still_rejected_through_ray(
    cluster: str, tmp_path: Path, shared_replay_dir: Path, name: str
) -> None:
    source = (HOSTILE / f"{name}.py").read_text()
    second = source.splitlines()[1]
    needs = second.removeprefix("# needs: ")
    if second.startswith("# needs: ") and needs not in available_layers(SandboxLimits()):
        pytest.skip(f"only the {needs} layer stops this attack, and it is missing here")
    target = tmp_path / "host"
    target.mkdir()
    candidate = tmp_path / f"{name}.py"
    replay_file = shared_replay_dir / "Qwen3-4B" / "aime24.json"
    candidate.write_text(
        source.replace("@@TARGET@@", str(target)).replace("@@DATA@@", str(replay_file))
    )
    ref = DataRef("synthetic", "Synth-Small", "aime24")
    hostile = EvalJob(ref, ControllerSpec(f"{candidate}:Hostile", 0.5), ReferenceProtocol(4))
    with pytest.raises(CandidateRejected) as rejected:
        run_jobs([hostile], executor=RayExecutor(seed_block=2))
    assert rejected.value.reason == "forbidden"
    assert list(target.iterdir()) == []


def test_ctrl_c_during_a_ray_sweep_exits_130_and_stops_its_cells(
    cluster: str, shared_replay_dir: Path
) -> None:
    # 51 β × 4 seed blocks: long enough that SIGINT lands mid-sweep on a loaded machine.
    sweep = autotts(
        "sweep", "--data", str(shared_replay_dir), "-m", "Qwen3-4B", "-B", "aime24",
        "-c", FIRST_AGREEMENT, "--trust", "--betas", "0:1:0.02", "-q",
        "--executor", "ray", "--address", cluster,
    )  # fmt: skip
    deadline = time.monotonic() + 20
    while busy_cell_workers() and time.monotonic() < deadline:
        time.sleep(0.2)  # cells cancelled by an earlier test may take a moment to end
    assert not busy_cell_workers()
    process = subprocess.Popen(
        sweep, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=cli_env()
    )
    deadline = time.monotonic() + 60
    while not busy_cell_workers() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert busy_cell_workers(), "no cell started"  # so the sweep is under way
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    assert "Traceback" not in err
    deadline = time.monotonic() + 20
    while busy_cell_workers() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not busy_cell_workers()  # cancelled, not left running on the cluster


@pytest.mark.parametrize("race", [False, True], ids=["plain", "raced"])
def test_discovery_through_ray_records_the_local_numbers(
    cluster: str, tmp_path: Path, race: bool
) -> None:
    candidates = tmp_path / "candidates"
    candidates.mkdir()
    # Raced: the second round races the first (its incumbent), in seed blocks on Ray.
    names = ["01_first_votes.py", "04_confidence_momentum.py"] if race else ["01_first_votes.py"]
    for name in names:
        example = ROOT / "examples" / "candidates" / name
        (candidates / example.name).write_text(example.read_text())
    # 30 seeds: two cells (25 + 5 seeds) per job on Ray
    discover = autotts(
        "discover", "--data", "synthetic", "--models", "Synth-Small",
        "--candidates", str(candidates), "--betas", "0,1",
        "--seeds", "30", "--heldout-seeds", "30", "-q", *(["--race"] if race else []),
    )  # fmt: skip
    runs = {}
    for name, extra in (("local", []), ("ray", on_ray([], cluster))):
        runs[name] = tmp_path / name
        run_cli([*discover, "--out", str(runs[name]), *extra])
    for numbers in ("rounds/0001/curves.json", "baselines.json", "heldout.json"):
        local, remote = (
            without_audits(json.loads((runs[n] / numbers).read_text())) for n in ("local", "ray")
        )
        assert "accuracy" in json.dumps(local)
        assert remote == local, numbers
    # The digest's traces, traced on the cluster (baselines.json holds the baselines').
    local, remote = ((runs[n] / "rounds/0001/traces.md").read_text() for n in ("local", "ray"))
    assert "# Trace digest" in local and remote == local
    # The check ran on the cluster (one task) with the local verdict, check by check.
    verdicts = [json.loads((runs[n] / "rounds/0001/check.json").read_text()) for n in runs]
    for key in ("verdict", "reason"):
        assert verdicts[0][key] == verdicts[1][key]
    assert [(c["name"], c["passed"]) for c in verdicts[0]["checks"]] == [
        (c["name"], c["passed"]) for c in verdicts[1]["checks"]
    ]
    if race:
        assert (runs["ray"] / "rounds/0002/curves.json").read_text() == (
            runs["local"] / "rounds/0002/curves.json"
        ).read_text()
        raced = [json.loads((runs[n] / "rounds/0002/check.json").read_text()) for n in runs]
        assert raced[0]["race"] == raced[1]["race"]


def test_traces_computed_on_ray_are_the_local_traces(cluster: str, tmp_path: Path) -> None:
    ref = DataRef("synthetic", "Synth-Small", "aime24")
    crash = tmp_path / "crash.py"
    crash.write_text(
        "from autotts import Controller\n\n\nclass Crash(Controller):\n"
        "    def __init__(self, beta=0.5):\n        self.beta = beta\n\n"
        "    def solve(self, session):\n        session.probe_new()\n        return 1 / 0\n"
    )
    executor = RayExecutor(cluster)
    try:
        for name in ("cmc", FIRST_AGREEMENT):
            job = EvalJob(ref, ControllerSpec(name, 0.5), ReferenceProtocol(2))
            local: list[EpisodeRecord] = []
            evaluate(job, trace_sink=lambda _r, _q, record, into=local: into.append(record))
            assert executor.traced(job) == local
            assert local and all(record.trace for record in local)
        failing = EvalJob(ref, ControllerSpec(str(crash), 0.5), ReferenceProtocol(1))
        with pytest.raises(CandidateRejected) as here:
            evaluate(failing, trace_sink=lambda *_: None)
        with pytest.raises(CandidateRejected) as there:
            executor.traced(failing)
        assert (there.value.reason, str(there.value)) == (here.value.reason, str(here.value))
    finally:
        executor.close()


@pytest.mark.parametrize(
    ("candidate", "code"),
    [("first_agreement.py", 0), ("candidates/03_peeking.py", 1)],
    ids=["accepted", "peeking"],
)
def test_check_through_ray_gives_the_local_verdict(
    cluster: str, tmp_path: Path, candidate: str, code: int
) -> None:
    from autotts.data.synthetic import write_synthetic_store

    store = tmp_path / "store"  # files on disk: their bytes travel through the object store
    write_synthetic_store(store, questions=6, branches=24, seed=3)
    check = autotts(
        "check", str(ROOT / "examples" / candidate), "--data", str(store), "-m", "Synth-Small",
        "--betas", "0,0.5,1", "--seeds", "2",
    )  # fmt: skip
    local = run_cli(check, check=False)
    remote = run_cli(on_ray(check, cluster), check=False)
    assert (local.returncode, remote.returncode) == (code, code), remote.stderr
    # The same verdict; the episode an audit names is drawn afresh in every check.
    verdict = "ACCEPTED" if code == 0 else "REJECTED (peeking)"
    assert remote.stdout.startswith(verdict) and local.stdout.startswith(verdict)


@pytest.mark.parametrize("incumbent", [99.0, 0.0], ids=["stopped", "run-to-the-end"])
def test_racing_through_ray_gives_the_local_race(cluster: str, incumbent: float) -> None:
    """The same blocks, the same stop and the same numbers as racing on local processes;
    a controller file still runs sandboxed in the Ray workers."""
    refs = [DataRef("synthetic", model, "aime24") for model in ("Synth-Small", "Synth-Large")]
    jobs = curve_jobs(FIRST_AGREEMENT, refs, [0.0, 1.0], ReferenceProtocol(40))
    local = race_curves(jobs, incumbent, workers=2)
    remote = race_curves(jobs, incumbent, workers=2, executor=RayExecutor())
    assert remote.stopped == local.stopped == (incumbent > 50)
    assert remote.seeds_run == local.seeds_run == (MIN_SEEDS if incumbent > 50 else 40)
    assert remote.bounds == local.bounds
    assert [same_numbers(r.to_dict()) for r in remote.results] == [
        same_numbers(r.to_dict()) for r in local.results
    ]
    assert all(r.controller["sandbox"] for r in remote.results)
    if remote.stopped:  # the few cells still out finish on their own, none left running
        wait_until_no_cell_runs()
        assert not busy_cell_workers()


def test_an_early_stop_sends_no_more_cells_and_leaves_none_running(cluster: str) -> None:
    """Closing the stream after its first cell: only the window's cells were ever sent
    (nothing is cancelled, so nothing can trip Ray's cancel race), and they end."""
    ref = DataRef("synthetic", "Synth-Small", "aime24")
    jobs = [EvalJob(ref, ControllerSpec(FIRST_AGREEMENT, 0.5), ReferenceProtocol(40))]
    cells = plan_cells(jobs, 2)
    executor = RayExecutor(seed_block=2)
    with closing(executor.stream_cells(jobs, cells)) as stream:
        first, _ = next(stream)
    window = executor.window()
    assert window == 4  # two per CPU of the test cluster
    assert executor.submitted == window + 1 < len(cells)  # refilled once, then stopped
    assert executor.cell_pids.keys() == {first.key}
    sent = {cell.key for cell in cells[: executor.submitted]}
    still_running = {cell_key(title) for title in wait_until_no_cell_runs()}
    assert still_running <= sent  # nothing beyond the window started after the close
    assert not busy_cell_workers()


def test_the_window_follows_the_cluster_as_it_grows(
    cluster: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The window is read again as cells go out: a cluster that grew (here: says it has)
    gets more cells out at once, and every cell still comes back once."""
    ref = DataRef("synthetic", "Synth-Small", "aime24")
    jobs = [EvalJob(ref, ControllerSpec("sc", 0.5), ReferenceProtocol(40))]
    cells = plan_cells(jobs, 2)
    executor = RayExecutor(seed_block=2)
    sizes = iter([2, 6])
    monkeypatch.setattr(executor, "window", lambda: next(sizes, 6))
    monkeypatch.setattr("autotts.scale.ray_executor.WINDOW_SECONDS", 0.0)
    with closing(executor.stream_cells(jobs, cells)) as stream:
        next(stream)
        assert executor.submitted == 2 + 5  # the first window, then the grown one refilled
        got = 1 + sum(1 for _ in stream)
    assert got == len(cells) == executor.submitted == len(executor.cell_pids)
