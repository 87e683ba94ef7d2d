"""README.md stays true and short: its example controller is the file in examples/ and it
evaluates, its links resolve, and the measurement narratives stay on the docs site."""

from __future__ import annotations

import json
import re
from pathlib import Path

from autotts.controllers.registry import ControllerSpec
from autotts.evaluation.jobs import DataRef, EvalJob, evaluate
from autotts.evaluation.protocols import ReferenceProtocol
from tests.controllers.random_replay import random_document

ROOT = Path(__file__).resolve().parents[1]


def test_readme_controller_is_the_example_file() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", readme, flags=re.S)
    example = (ROOT / "examples" / "first_agreement.py").read_text(encoding="utf-8")
    assert example in blocks


def test_readme_states_the_ci_test_command() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = readme.split("<!-- test-command -->")[1].split("<!-- /test-command -->")[0]
    assert "pytest" in block
    assert "test-command" in (ROOT / ".ci" / "run").read_text(encoding="utf-8")


def test_example_controller_evaluates_on_a_replay_file(tmp_path: Path) -> None:
    spec = ControllerSpec(f"{ROOT / 'examples/first_agreement.py'}:FirstAgreement", beta=0.5)
    path = tmp_path / "M" / "aime24.json"
    path.parent.mkdir()
    path.write_text(json.dumps(random_document(3, questions=4, branches=20)))
    ref = DataRef(str(tmp_path), "M", "aime24")
    result = evaluate(EvalJob(ref, spec, ReferenceProtocol(seeds=3)))
    assert result.metrics.questions == 4
    assert result.metrics.tokens > 0
    assert result.params == {"beta": 0.5, "width": 9, "need": 4}


def test_readme_is_short_and_its_links_resolve() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(readme.splitlines()) < 250
    targets = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", readme)
    local = [t for t in targets if "://" not in t]
    assert len(local) >= 10
    missing = [t for t in local if not (ROOT / t).exists()]
    assert not missing, f"README.md links to files that do not exist: {missing}"


def test_readme_states_the_main_job() -> None:
    # The set-up section's first command runs a discovery and its report with no API key.
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    setup = readme.split("## Set-up on a fresh machine")[1].split("<!-- test-command -->")[0]
    command = re.findall(r"```\n(.*?)\n```", setup, flags=re.S)
    assert command and "autotts discover" in command[0] and "autotts report" in command[0]
