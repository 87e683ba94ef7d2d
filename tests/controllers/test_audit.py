"""The source audit refuses controllers that reach past the public session API."""

from __future__ import annotations

from pathlib import Path

import pytest

from autotts.controllers.audit import audit_source
from autotts.controllers.registry import ControllerSpec, build, load_controller_class
from autotts.errors import ControllerError

ROOT = Path(__file__).resolve().parents[2]

HEADER = "from autotts import Controller\nclass C(Controller):\n    def solve(self, session):\n"

REFUSED = {
    "private session attribute": "        return session._episode",
    "dunder on an object": "        return session.__dict__",
    "closure of a method": "        return session.probe_new.__func__.__closure__",
    "getattr": "        return getattr(session, '_episode')",
    "vars": "        return vars(session)",
    "eval": "        return eval('1')",
    "open": "        return open('/etc/passwd').read()",
    "dunder import": "        return __import__('gc')",
    "import gc": "        import gc\n        return None",
    "import inspect": "        import inspect\n        return None",
    "from sys import": "        from sys import modules\n        return None",
    "private autotts module": "        from autotts.env import episode\n        return episode._x",
    "private autotts name": "        from autotts.env.session import _x\n        return None",
    "globals": "        return globals()",
    "dunder on self": "        return self.__class__",
}


@pytest.mark.parametrize("body", REFUSED.values(), ids=REFUSED.keys())
def test_refused(body: str) -> None:
    findings = audit_source(HEADER + body + "\n")
    assert findings, body
    assert all(f.line >= 4 for f in findings)


ALLOWED = {
    "own private state": "        self._seen = []\n        return self._seen",
    "super init": "        super().__init__()\n        return None",
    "public api": "        a, i, d = session.probe_new()\n        return session.probe_more(i)[0]",
    "numpy and math": "        import math, numpy as np\n        return str(math.floor(np.sum(1)))",
    "collections": "        from collections import Counter\n        return None",
}


@pytest.mark.parametrize("body", ALLOWED.values(), ids=ALLOWED.keys())
def test_allowed(body: str) -> None:
    assert audit_source(HEADER + body + "\n") == []


def test_builtin_controllers_and_example_pass_the_audit() -> None:
    for path in [
        *(ROOT / "src/autotts/controllers").glob("*.py"),
        ROOT / "examples/first_agreement.py",
    ]:
        if path.name in {"audit.py", "registry.py", "base.py", "upstream.py"}:
            continue  # infrastructure, not controllers
        findings = [f for f in audit_source(path.read_text()) if "import of" not in f.message]
        assert findings == [], f"{path.name}: {findings}"


def test_untrusted_files_are_never_imported_in_process(tmp_path: Path) -> None:
    path = tmp_path / "peek.py"
    path.write_text(HEADER + REFUSED["private session attribute"] + "\n")
    with pytest.raises(ControllerError, match=r"not trusted.*trusted=True"):
        load_controller_class(f"{path}:C")
    # trusted code is loaded as is
    assert load_controller_class(f"{path}:C", trusted=True).__name__ == "C"


def test_example_controller_builds_with_beta() -> None:
    controller = build(
        ControllerSpec(f"{ROOT / 'examples/first_agreement.py'}:FirstAgreement", 0.5)
    )
    assert controller.params() == {"beta": 0.5, "width": 9, "need": 4}


def test_api_description_example_passes_the_audit_and_runs(tmp_path: Path) -> None:
    import re

    from autotts.controllers import api_description
    from autotts.evaluation.protocols import ReferenceProtocol
    from autotts.evaluation.runner import run_episodes
    from tests.controllers.random_replay import random_replay

    code = re.findall(r"```python\n(.*?)```", api_description(), flags=re.S)[0]
    assert audit_source(code) == []
    path = tmp_path / "mine.py"
    path.write_text(code)
    small, large = (build(ControllerSpec(f"{path}:MyController", b)) for b in (0.0, 1.0))
    replay = random_replay(2, questions=3, branches=20)
    cheap = run_episodes(small, replay, ReferenceProtocol(seeds=2))
    dear = run_episodes(large, replay, ReferenceProtocol(seeds=2))
    assert cheap.cost.sum() < dear.cost.sum()


def test_api_description_lists_exactly_the_allowed_imports() -> None:
    from autotts.controllers import api_description
    from autotts.controllers.audit import ALLOWED_IMPORTS

    text = api_description().split("Allowed imports:")[1].split("No private")[0]
    listed = {name.strip(" `.\n") for name in text.replace("\n", " ").split(",")}
    assert listed == ALLOWED_IMPORTS - {"__future__"}
