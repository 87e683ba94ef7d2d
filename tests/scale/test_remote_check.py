"""The Ray check task without Ray: a file and data that exist only as bytes are checked."""

from __future__ import annotations

from pathlib import Path

from autotts.checking import check_controller
from autotts.data.synthetic import write_synthetic_store
from autotts.evaluation.jobs import DataRef
from autotts.scale.remote_check import _check_task

ROOT = Path(__file__).resolve().parents[2]


def test_check_task_writes_what_is_missing_where_it_runs(tmp_path: Path) -> None:
    store = tmp_path / "store"
    write_synthetic_store(store, questions=6, branches=24, seed=3)
    here = DataRef(str(store), "Synth-Small", "aime24")
    source = (ROOT / "examples" / "first_agreement.py").read_bytes()
    # Paths that do not exist in this process, as on another machine of a cluster.
    elsewhere = DataRef(str(tmp_path / "not-here"), "Synth-Small", "aime24")
    options = {"betas": (0.0, 1.0), "seeds": 2}
    report = _check_task(
        "/nowhere/first_agreement.py:FirstAgreement",
        source,
        [elsewhere],
        [here.path.read_bytes()],
        options,
    )
    assert not isinstance(report, str)
    expected = check_controller(f"{ROOT / 'examples' / 'first_agreement.py'}", [here], **options)
    assert report.accepted and expected.accepted
    assert [c["detail"] for c in report.checks] == [c["detail"] for c in expected.checks]
    assert not (tmp_path / "not-here").exists()
    # a usage error comes back as its message
    assert "betas" in str(_check_task("/nowhere/x.py", source, [here], [None], {"betas": (2.0,)}))
