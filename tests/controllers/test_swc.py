"""The built-in ``swc`` is exactly the schedule its search selected (docs/optimizer/seed0)."""

from __future__ import annotations

import json
from pathlib import Path

from autotts.controllers.composable import BetaSchedule
from autotts.controllers.discovered.swc import PROVENANCE, SteadyWideningConfidence
from autotts.controllers.registry import REGISTRY, ControllerSpec, build

RUN = Path(__file__).resolve().parents[2] / "docs" / "optimizer" / "seed0"


def test_swc_is_the_selected_schedule() -> None:
    selection = json.loads((RUN / "selection.json").read_text())
    schedule = BetaSchedule.from_dict(selection["schedule"])
    assert PROVENANCE["trial"] == selection["trial"]
    assert PROVENANCE["search_gains_100_seeds"] == selection["search_gains_100_seeds"]
    for i in range(41):
        beta = i / 40
        assert SteadyWideningConfidence(beta).knobs == schedule.knobs(beta)


def test_swc_is_registered_and_vectorised() -> None:
    assert REGISTRY["swc"].cls is SteadyWideningConfidence
    controller = build(ControllerSpec("swc", beta=0.5))
    assert controller.vectorised() is not None
    assert controller.params()["beta"] == 0.5
