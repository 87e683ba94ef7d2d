"""Transfer across model sizes (``--search-models``/``--heldout-models``, transfer.json)
and the discovery ablations (``--no-trace-digest``, ``--no-beta``), end to end: the real
command in a child process, or the Python API against a local LLM server."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from autotts.cli.common import data_refs
from autotts.controllers.registry import ControllerSpec
from autotts.discovery.api import discover
from autotts.discovery.heldout_records import DiscoverHeldout
from autotts.discovery.rundir import RunDir
from autotts.discovery.settings import DiscoverySettings, resume_conflicts, split_refs
from autotts.discovery.transfer_records import TransferFile
from autotts.discovery.verdict import episode_tables
from autotts.errors import UnknownName
from autotts.evaluation.jobs import EvalJob
from autotts.evaluation.paired import paired_bootstrap, question_diffs
from autotts.evaluation.paired_gain import question_set
from autotts.evaluation.protocols import ReferenceProtocol
from autotts.evaluation.table import table_jobs
from tests.conftest import ROOT
from tests.discovery.fake_llm import ScriptedLLMServer

CANDIDATES = ROOT / "examples" / "candidates"
GOOD = (CANDIDATES / "01_first_votes.py").read_text()
REPLY = f"Idea: a fixed vote.\n\n```python\n{GOOD}```\n"

#: Spends *less* as β grows: the check's monotonicity test rejects it, unless --no-beta.
FALLING = '''"""Reads fewer branches as beta grows."""

from autotts import Controller, Session, majority


class Falling(Controller):
    def __init__(self, beta: float = 0.5) -> None:
        self.reads = max(1, round(16 ** (1 - beta)))

    def solve(self, session: Session) -> str | None:
        answers = []
        while len(answers) < self.reads and session.can_branch:
            answers.append(session.full_read())
        session.trace("finish", output={"stop_reason": f"read {len(answers)}"})
        return majority(answers)
'''


def autotts(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "autotts.cli.main", *args],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=cwd,
    )


def _json(path: Path) -> Any:
    return json.loads(path.read_text())


# -- the sets ---------------------------------------------------------------------------


def _pairs(refs: list[Any]) -> set[tuple[str, str]]:
    return {(r.model, r.benchmark) for r in refs}


def test_models_is_the_shorthand_for_both_sets() -> None:
    refs = data_refs("synthetic")
    search, held = split_refs(refs, ["Synth-Small"])
    assert _pairs(search) == {("Synth-Small", "aime24")}
    assert _pairs(held) == {("Synth-Small", "aime25"), ("Synth-Small", "hmmt25")}
    same = split_refs(refs, search_models=["Synth-Small"], heldout_models=["Synth-Small"])
    assert (_pairs(same[0]), _pairs(same[1])) == (_pairs(search), _pairs(held))


def test_a_model_never_searched_is_held_out_on_every_benchmark() -> None:
    refs = data_refs("synthetic")
    search, held = split_refs(refs, search_models=["Synth-Small"], heldout_models=["Synth-Large"])
    assert _pairs(search) == {("Synth-Small", "aime24")}
    assert _pairs(held) == {("Synth-Large", b) for b in ("aime24", "aime25", "hmmt25")}
    # Held out on both models: the searched one on the held-out benchmarks only.
    _, both = split_refs(
        refs, search_models=["Synth-Small"], heldout_models=["Synth-Small", "Synth-Large"]
    )
    assert _pairs(both) == _pairs(held) | {("Synth-Small", "aime25"), ("Synth-Small", "hmmt25")}
    # --models fills in the side not named
    _, rest = split_refs(refs, ["Synth-Small", "Synth-Large"], search_models=["Synth-Small"])
    assert _pairs(rest) == _pairs(both)
    with pytest.raises(UnknownName, match="Qwen3-99B"):
        split_refs(refs, search_models=["Synth-Small"], heldout_models=["Qwen3-99B"])


def test_resume_compares_the_new_flags_with_the_run() -> None:
    entry = {"store": "/d", "benchmark": "aime24"}
    run = {
        "search": [{**entry, "model": "A"}],
        "heldout": [{**entry, "model": "B"}, {**entry, "model": "B", "benchmark": "aime25"}],
        "ablations": {"no_trace_digest": True, "no_beta": False},
    }
    assert resume_conflicts(run, {"--search-models": ["A"], "--heldout-models": ["B"]}) == []
    assert resume_conflicts(run, {"--heldout-benchmarks": ["aime25"]}) == []
    assert resume_conflicts(run, {"--heldout-models": ["A"]}) == [
        "--heldout-models: A, the run has B"
    ]
    assert resume_conflicts(run, {"--models": ["A", "B"]}) == [
        "--models: A,B, the run has search models A and held-out models B"
    ]
    assert resume_conflicts(run, {"--no-trace-digest": True, "--no-beta": False}) == []
    assert resume_conflicts(run, {"--no-beta": True}) == ["--no-beta: True, the run has False"]
    # a run from before the ablations existed had neither
    assert resume_conflicts({**run, "ablations": {}}, {"--no-trace-digest": True}) == [
        "--no-trace-digest: True, the run has False"
    ]


# -- transfer, end to end ----------------------------------------------------------------


def _one_candidate(root: Path, name: str = "01_first_votes.py", text: str = GOOD) -> Path:
    folder = root / f"candidates-{Path(name).stem}"
    folder.mkdir()
    (folder / name).write_text(text)
    return folder


def test_transfer_opens_no_held_out_model_before_selection(tmp_path: Path) -> None:
    """Every file of the held-out model, and the searched model's held-out benchmarks,
    are replaced by text no parser accepts: the search and selection still finish, and
    only then does the held-out phase fail on one of them, cleanly."""
    store = tmp_path / "store"
    autotts("data", "synth", "--out", str(store), "--questions", "6", "--branches", "16")
    poisoned = [*store.glob("Synth-Large/*.json"), *store.glob("Synth-Small/aime25.json")]
    poisoned += store.glob("Synth-Small/hmmt25.json")
    assert len(poisoned) == 5
    for path in poisoned:
        path.write_text("not json: the search must never open this file")
    out = tmp_path / "run"
    done = autotts(
        "discover", "--out", str(out), "--data", str(store), "--quiet",
        "--candidates", str(_one_candidate(tmp_path)), "--rounds", "1", "--betas", "0,1",
        "--seeds", "2", "--heldout-seeds", "2",
        "--search-models", "Synth-Small", "--heldout-models", "Synth-Large,Synth-Small",
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert any(p.name in done.stderr for p in poisoned), done.stderr
    assert (out / "selection.json").is_file()
    assert not (out / "heldout.json").exists() and not (out / "transfer.json").exists()
    read = {(e["model"], e["benchmark"]) for e in _json(out / "selection.json")["read"]}
    assert read == {("Synth-Small", "aime24")}
    assert "Synth-Large" not in (out / "baselines.json").read_text()
    settings = _json(out / "run.json")
    assert settings["models"] == {
        "search": ["Synth-Small"],
        "heldout": ["Synth-Large", "Synth-Small"],
    }


@pytest.fixture(scope="module")
def transfer_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Search on Synth-Small, hold out both models: the matrix has searched and unseen rows."""
    root = tmp_path_factory.mktemp("transfer")
    out = root / "run"
    done = autotts(
        "discover", "--out", str(out), "--data", "synthetic", "--quiet",
        "--candidates", str(_one_candidate(root)), "--rounds", "1", "--betas", "0,0.5,1",
        "--seeds", "2", "--heldout-seeds", "3", "-w", "1",
        "--search-models", "Synth-Small", "--heldout-models", "Synth-Small,Synth-Large",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return out


def test_transfer_matrix_holds_every_cell_with_its_interval(transfer_run: Path) -> None:
    matrix = _json(transfer_run / "transfer.json")
    heldout = _json(transfer_run / "heldout.json")
    assert matrix["models"] == ["Synth-Small", "Synth-Large"]  # searched first
    assert matrix["benchmarks"] == ["aime24", "aime25", "hmmt25"]
    assert matrix["search_models"] == ["Synth-Small"]
    assert matrix["baseline"] == heldout["paired"]["baseline"]
    cells = {(c["model"], c["benchmark"]): c for c in matrix["cells"]}
    assert cells.keys() == {(m, b) for m in matrix["models"] for b in matrix["benchmarks"]}
    search = cells["Synth-Small", "aime24"]
    assert search["role"] == "search" and "ci95" not in search
    selected = _json(transfer_run / "selection.json")
    point = next(
        p for p in _json(transfer_run / "rounds/0001/curves.json")["points"]
        if p["beta"] == selected["beta"]
    )  # fmt: skip
    assert (search["accuracy"], search["tokens"]) == (point["accuracy"], point["tokens"])
    ours = {(p["model"], p["benchmark"]): p for p in heldout["points"]
            if p["method"] == heldout["candidate"]}  # fmt: skip
    assert ours.keys() == {k for k, c in cells.items() if c["role"] == "heldout"}
    for key, point in ours.items():
        cell = cells[key]
        assert (cell["accuracy"], cell["tokens"]) == (point["accuracy"], point["tokens"])
        low, high = cell["ci95"]
        assert low <= cell["gain"] <= high
        assert cell["model_searched"] == (key[0] == "Synth-Small")
    groups = {g["name"]: g for g in matrix["groups"]}
    assert groups["all held-out files"]["files"] == 5
    assert groups["all held-out files"]["gain"] == pytest.approx(heldout["paired"]["gain"])
    assert groups["models the search never saw"]["files"] == 3
    assert groups["searched models, held-out benchmarks"]["files"] == 2


def test_discover_s_gain_draws_each_question_for_every_model(transfer_run: Path) -> None:
    """The verdict's interval resamples a question once for all models (the held-out
    files that hold one question set share their draws), as ``autotts optimize``'s gains do; the
    interval drawing every file on its own stays beside it, with the numbers the code
    before the change reported for this very run (``records/``)."""
    paired = _json(transfer_run / "heldout.json")["paired"]
    # the same episodes run again here, and the bootstrap drawn both ways by hand
    settings = DiscoverySettings.from_run_json(_json(transfer_run / "run.json"))
    selection = _json(transfer_run / "selection.json")
    protocol = ReferenceProtocol(seeds=3)
    candidate = f"{transfer_run / 'rounds/0001/candidate.py'}:{selection['class']}"
    spec = ControllerSpec(candidate, selection["beta"])
    ours = episode_tables([EvalJob(ref, spec, protocol) for ref in settings.heldout])
    theirs = episode_tables(
        [j for j in table_jobs(settings.heldout, protocol) if j.label == paired["baseline"]]
    )
    files = list(ours)
    sets = {(ref.model, ref.benchmark): question_set(ref) for ref in settings.heldout}
    diffs = question_diffs([ours[f] for f in files], [theirs[f] for f in files])
    joint = paired_bootstrap(diffs, groups=[sets[f] for f in files])
    apart = paired_bootstrap(diffs)
    assert paired["gain"] == joint.gain
    assert paired["ci95"] == [joint.low, joint.high]
    assert paired["p_not_positive"] == joint.p_not_positive
    assert paired["ci95_per_file"] == [apart.low, apart.high]
    # The synthetic store's two models hold other question texts under one benchmark
    # name, so each file is its own question set and the joint draws are the per-file
    # ones; grouping by the benchmark's name (as the code did for a while) paired
    # unrelated questions by position and drew [-2.89, +1.33] here.
    assert len(set(sets.values())) == len(sets)
    assert paired["ci95"] == paired["ci95_per_file"]
    before = _json(ROOT / "tests/discovery/records/discover_heldout_per_file.json")["paired"]
    assert paired["ci95_per_file"] == pytest.approx(before["ci95"])
    assert paired["gain"] == pytest.approx(before["gain"])
    # the transfer matrix's pooled group is the same comparison, drawn the same way
    groups = {g["name"]: g for g in _json(transfer_run / "transfer.json")["groups"]}
    pooled = groups["all held-out files"]
    assert (pooled["ci95"], pooled["ci95_per_file"]) == (paired["ci95"], paired["ci95_per_file"])


def test_the_transfer_run_s_files_read_typed_and_back(transfer_run: Path) -> None:
    """transfer.json with all three groups, and heldout.json beside it, round trip as
    JSON text; the typed readers give what the files hold."""
    for name, cls in (("transfer.json", TransferFile), ("heldout.json", DiscoverHeldout)):
        data = _json(transfer_run / name)
        assert json.dumps(cls.from_dict(data).to_dict()) == json.dumps(data), name
    run = RunDir(transfer_run)
    matrix, held = run.transfer(), run.heldout()
    assert matrix is not None and isinstance(held, DiscoverHeldout)
    assert [g.name for g in matrix.groups] == [
        "all held-out files",
        "models the search never saw",
        "searched models, held-out benchmarks",
    ]
    assert held.paired is not None and matrix.baseline == held.paired.baseline
    assert matrix.groups[0].gain.ci95 == held.paired.gain.ci95
    unseen = [c for c in matrix.cells if not c.model_searched]
    assert unseen and all(c.role == "heldout" and c.ci95 is not None for c in unseen)


def test_the_report_reads_a_run_from_before_the_joint_interval(
    transfer_run: Path, tmp_path: Path
) -> None:
    """An old run directory (its heldout.json and transfer.json without ``ci95_per_file``)
    still makes a report, whose verdict says its interval drew file by file."""
    old = tmp_path / "old"
    shutil.copytree(transfer_run, old)
    shutil.copy(
        ROOT / "tests/discovery/records/discover_heldout_per_file.json", old / "heldout.json"
    )
    matrix = _json(old / "transfer.json")
    for group in matrix["groups"]:
        del group["ci95_per_file"]
    (old / "transfer.json").write_text(json.dumps(matrix))
    done = autotts("report", str(old))
    assert done.returncode == 0, done.stderr
    assert "[-2.67, +1.33] over questions drawn file by file" in (old / "report.html").read_text()
    done = autotts("report", str(transfer_run))
    assert done.returncode == 0, done.stderr
    assert (
        "over questions drawn jointly across models (file by file: ["
        in (transfer_run / "report.html").read_text()
    )


def test_the_report_draws_the_transfer_matrix(transfer_run: Path) -> None:
    done = autotts("report", str(transfer_run))
    assert done.returncode == 0, done.stderr
    page = (transfer_run / "report.html").read_text()
    assert 'id="transfer"' in page and "Transfer matrix" in page
    assert "Synth-Large" in page and "models the search never saw" in page
    assert '<i class="muted">search</i>' in page


# -- the ablations -------------------------------------------------------------------------


def test_no_beta_evaluates_one_point_and_skips_monotonicity(tmp_path: Path) -> None:
    folder = _one_candidate(tmp_path, "01_falling.py", FALLING)
    args = [
        "--data", "synthetic", "--models", "Synth-Small", "--candidates", str(folder),
        "--rounds", "1", "--betas", "0,0.5,1", "--seeds", "2", "--heldout-seeds", "2", "--quiet",
    ]  # fmt: skip
    # Without the ablation the falling candidate fails the monotonicity test...
    full = tmp_path / "full"
    assert autotts("discover", "--out", str(full), *args).returncode == 0
    check = _json(full / "rounds/0001/check.json")
    assert (check["verdict"], check["reason"]) == ("rejected", "non-monotone")
    # ...with it, that test does not apply, and the curve is one point per search file.
    ablated = tmp_path / "ablated"
    done = autotts("discover", "--out", str(ablated), *args, "--no-beta")
    assert done.returncode == 0, done.stderr
    settings = _json(ablated / "run.json")
    assert settings["ablations"] == {"no_trace_digest": False, "no_beta": True}
    assert settings["no_beta_point"] == 1.0
    check = _json(ablated / "rounds/0001/check.json")
    assert check["verdict"] == "accepted", check
    assert "monotone" not in [c["name"] for c in check["checks"]]
    assert check["monotonicity"]["applies"] is False
    curves = _json(ablated / "rounds/0001/curves.json")
    assert [(p["model"], p["beta"]) for p in curves["points"]] == [("Synth-Small", 1.0)]
    assert curves["betas"] == [1.0]
    # the baselines keep their curves over the grid, for the proposer to compare with
    cmc = _json(ablated / "baselines.json")["methods"]["cmc"]["aggregate"]
    assert [a["beta"] for a in cmc] == [0.0, 0.5, 1.0]
    assert _json(ablated / "selection.json")["beta"] == 1.0
    # A resume keeps the ablation: giving it another value is refused.
    again = autotts("discover", "--out", str(full), "--resume", "--no-beta")
    assert again.returncode == 2 and "--no-beta: True, the run has False" in again.stderr
    assert autotts("discover", "--out", str(ablated), "--resume", "--no-beta").returncode == 0


SMALL = {"data": "synthetic", "models": ["Synth-Small"], "betas": [0.0, 1.0], "seeds": 2}


def _llm_run(out: Path, **ablations: bool) -> list[str]:
    """Two rounds from a local OpenAI-compatible server; the two prompts it was sent."""
    script = [{"reply": REPLY, "input_tokens": 10, "output_tokens": 10}] * 2
    with ScriptedLLMServer(script) as server:
        discover(
            out, proposer="openai", model="m", base_url=server.url + "/v1", api_key_env="K",
            rounds=2, heldout_seeds=2, backoff=0.01, **SMALL, **ablations,
        )  # fmt: skip
        sent = [body["messages"][-1]["content"] for _, _, body in server.requests]
    assert sent == [(out / f"rounds/{n:04d}/prompt.md").read_text() for n in (1, 2)]
    return sent


def test_the_prompt_lacks_the_digest_only_with_no_trace_digest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("K", "sk-test")
    full = _llm_run(tmp_path / "full")
    ablated = _llm_run(tmp_path / "ablated", no_trace_digest=True, no_beta=True)
    # With the digest: the baselines' (round 1 on) and round 1's (round 2).
    assert "# Trace digest: cmc" in full[0]
    digest = (tmp_path / "full/rounds/0001/traces.md").read_text()
    assert digest.startswith("# Trace digest") and "Synth-Small/aime24" in digest
    assert digest.strip() in full[1]
    assert "which rounds and traces you learned from" in full[1]
    assert "One knob, `beta` in [0, 1]" in full[1]
    # Without: no digest of any kind reaches either prompt, and none was computed.
    for prompt in ablated:
        assert "Trace digest" not in prompt and "WRONG" not in prompt
        assert "## Baselines on the search set" in prompt  # the curves are still there
        assert "| β | accuracy (%) | tokens |" in prompt
        assert "traces you learned from" not in prompt
    assert "### Round 1:" in ablated[1] and "class FirstVotes(Controller)" in ablated[1]
    baselines = _json(tmp_path / "ablated/baselines.json")["methods"]
    assert all(method["digest"] == "" for method in baselines.values())
    assert "Not computed" in (tmp_path / "ablated/rounds/0001/traces.md").read_text()
    # --no-beta's rules: one fixed setting, no β schedule asked for
    assert "No knob: write one fixed setting" in ablated[0]
    assert "One knob, `beta`" not in ablated[0] and "β → setting schedule" not in ablated[0]


def test_optimize_takes_the_transfer_flags(tmp_path: Path) -> None:
    out = tmp_path / "run"
    done = autotts(
        "optimize", "--out", str(out), "--data", "synthetic", "--time-budget", "30",
        "--search-seeds", "2", "--trials-per-round", "2", "--workers", "1",
        "--heldout-seeds", "2", "--quiet", "--every-pick",
        "--search-models", "Synth-Small", "--heldout-models", "Synth-Large",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    # --every-pick: both searches' picks, evaluated after the winner's own held-out file; the
    # winner's numbers there are heldout.json's (same tables, same resampling)
    picks = _json(out / "heldout_picks.json")
    # every search that finished a trial (on a loaded machine the second may not, in 30 s)
    searches = [p["search"] for p in _json(out / "selection.json")["searches"]]
    assert [p["search"] for p in picks["picks"]] == searches and searches[0] == 0
    assert sum(p["selected"] for p in picks["picks"]) == 1
    winner = next(p for p in picks["picks"] if p["selected"])
    assert winner["gains"] == _json(out / "heldout.json")["gains"]
    assert picks["passing"] == sum(p["passes"] for p in picks["picks"])
    assert "picks pass" in done.stdout
    settings = _json(out / "run.json")
    assert {(e["model"], e["benchmark"]) for e in settings["search"]} == {("Synth-Small", "aime24")}
    held = {(p["model"], p["benchmark"]) for p in _json(out / "heldout.json")["points"]}
    assert held == {("Synth-Large", b) for b in ("aime24", "aime25", "hmmt25")}
    # the ablations are the LLM proposer's: the optimizer reads no prompt
    refused = autotts("discover", "--proposer", "optimizer", "--out", str(tmp_path / "o"),
                      "--data", "synthetic", "--no-beta")  # fmt: skip
    assert refused.returncode == 2 and "reads none" in refused.stderr
