"""Counterfactual episodes keep exactly what a controller saw; honest controllers cannot tell."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from autotts.checking.counterfactual import branches_of, counterfactual, materialise
from autotts.controllers.registry import REGISTRY
from autotts.env.episode import Episode
from autotts.env.session import Session
from autotts.sandbox.replay import FULL_READ, PROBE_NEW, replay_log
from tests.controllers.random_replay import random_replay


class _Recorder(Session):
    __slots__ = ("log",)

    def __init__(self, episode: Episode) -> None:
        super().__init__(episode)
        self.log: list[int] = []

    def probe_new(self) -> Any:
        probe = super().probe_new()
        self.log.append(PROBE_NEW)
        return probe

    def probe_more(self, branch: int) -> tuple[str, bool]:
        out = super().probe_more(branch)
        self.log.append(branch)
        return out

    def full_read(self) -> str:
        out = super().full_read()
        self.log.append(FULL_READ)
        return out


def _play(controller: Any, question: Any) -> tuple[list[int], str | None]:
    session = _Recorder(Episode(question, list(range(question.n_branches))))
    answer = controller.solve(session)
    return session.log, answer


@pytest.mark.parametrize("name", sorted(REGISTRY))
@pytest.mark.parametrize("beta", [0.0, 0.5, 1.0])
def test_honest_controllers_play_counterfactuals_identically(name: str, beta: float) -> None:
    replay = random_replay(7, questions=6, branches=24)
    controller = REGISTRY[name].from_beta(beta)
    rng = np.random.default_rng(1)
    changed = hidden = 0
    for q, question in enumerate(replay.questions):
        order = rng.permutation(question.n_branches).tolist()
        real = branches_of(question, order)
        log, answer = _play(controller, materialise(real, question.probe_freq))
        played = replay_log(question, order, log, answer, where="test")
        donor_q = replay.questions[(q + 1) % len(replay)]
        cf = counterfactual(real, played, branches_of(donor_q, range(24)), rng)
        assert len(cf) == len(real)
        changed += cf != real
        hidden += played.opened < len(real) or not all(played.finished)
        assert _play(controller, materialise(cf, question.probe_freq)) == (log, answer)
    assert changed == hidden  # whatever was left unrevealed was replaced


def test_counterfactual_keeps_revealed_and_replaces_the_rest() -> None:
    replay = random_replay(3, questions=2, branches=10)
    question, donor_q = replay.questions
    order = list(range(10))
    real = branches_of(question, order)
    log = [PROBE_NEW, 0, FULL_READ]  # branch 0 read twice, branch 1 read to its end
    played = replay_log(question, order, log, None, where="test")
    if played.finished[0]:
        pytest.skip("branch 0 finished early in this random draw")
    donor = branches_of(donor_q, range(10))
    cf = counterfactual(real, played, donor, np.random.default_rng(0))
    assert cf[1] == real[1]  # fully read: kept whole
    assert cf[0].probes[:2] == real[0].probes[:2]  # the two probes read are kept
    assert len(cf[0].probes) >= 2  # "not finished after two reads" still holds
    assert all(branch in donor for branch in cf[2:])  # unopened: drawn from the donor
