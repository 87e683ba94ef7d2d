"""The look-ahead audit in fresh processes, the answer renaming, and the check's β grid.

Hostile files that the check alone rejects live in ``hostile/`` (``memo_peeker.py``,
``process_seed.py``); here are the attacks that need an evaluation's audit or a
particular grid, and the properties the audit rests on.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from autotts.checking import check_controller
from autotts.controllers.registry import REGISTRY, ControllerSpec, build
from autotts.env.episode import Episode
from autotts.env.session import Session
from autotts.errors import CandidateRejected
from autotts.evaluation.audit import AUDITS_VARIABLE, SHARE_VARIABLE, AuditPolicy
from autotts.evaluation.jobs import DataRef, EvalJob, evaluate, load_data
from autotts.evaluation.protocols import ReferenceProtocol
from autotts.evaluation.runner import run_episodes
from autotts.sandbox.renaming import renaming_for
from autotts.sandbox.replay import FULL_READ, PROBE_NEW
from autotts.sandbox.shadow import Revealed, shadow_replay
from tests.controllers.random_replay import random_replay
from tests.sandbox.conftest import FIRST_AGREEMENT

HERE = Path(__file__).parent


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


@pytest.mark.parametrize("name", sorted(REGISTRY))
@pytest.mark.parametrize("beta", [0.0, 0.5, 1.0])
def test_honest_controllers_play_every_episode_of_a_shadow_identically(
    name: str, beta: float
) -> None:
    replay = random_replay(11, questions=6, branches=24)
    controller = REGISTRY[name].from_beta(beta)
    rng = np.random.default_rng(2)
    episodes = []  # several episodes per question, as a cell has
    revealed = {q: Revealed() for q in range(len(replay))}
    for q, question in enumerate(replay.questions):
        for _ in range(3):
            order = rng.permutation(question.n_branches).tolist()
            session = _Recorder(Episode(question, order))
            answer = controller.solve(session)
            revealed[q].add(order, session._episode)
            episodes.append((q, order, session.log, answer))
    shadow = shadow_replay(replay, revealed, rng)
    changed = 0
    for q, order, log, answer in episodes:
        session = _Recorder(Episode(shadow.questions[q], order))
        again = controller.solve(session)
        assert (session.log, again) == (log, answer), (q, order)
        real, other = replay.questions[q], shadow.questions[q]
        changed += int(real.answer_strings != other.answer_strings)
    # The shadow replaced what was not revealed (unless the controller read everything).
    everything = all(len(r.finished) == 24 for r in revealed.values())
    assert changed > 0 or everything


def test_a_shadow_keeps_shapes_and_borrows_answers_from_the_question_itself() -> None:
    replay = random_replay(5, questions=4, branches=16)
    shadow = shadow_replay(
        replay, {q: Revealed() for q in range(len(replay))}, np.random.default_rng(0)
    )
    for real, other in zip(replay.questions, shadow.questions):
        assert other.n_branches == real.n_branches and other.probe_freq == real.probe_freq
        # Nothing was revealed: every answer is borrowed, and renamed into the question's own.
        assert set(other.answers) <= set(real.answers)
    assert all(g not in q.answers for g, q in zip(shadow.gold, shadow.questions))


def test_the_renaming_keeps_equality_and_order_and_marks_made_up_answers() -> None:
    answers = ["17", "9", "100", "ERR", "\\frac{1}{2}", "x"]
    one = renaming_for(answers, "file", b"key one")
    two = renaming_for(answers, "file", b"key two")
    ordered = sorted(answers)
    assert [one.rename(a) for a in ordered] == sorted(one.rename(a) for a in ordered)
    assert len({one.rename(a) for a in answers}) == len(answers)
    assert one.rename("ERR") == "ERR"
    assert [one.rename(a) for a in answers] != [two.rename(a) for a in answers]
    assert all(one.restore(one.rename(a)) == a for a in answers)
    assert one.restore("not an answer") == "<not a label: not an answer>"
    assert one.restore(None) is None


def test_an_honest_file_passes_every_audit_with_the_numbers_it_has_in_process(
    small_ref: DataRef, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(AUDITS_VARIABLE, "3")
    monkeypatch.setenv(SHARE_VARIABLE, "1")  # this cell is audited
    job = EvalJob(small_ref, ControllerSpec(str(FIRST_AGREEMENT), 0.5), ReferenceProtocol(6))
    result = evaluate(job)
    audit = result.controller["audit"]
    assert audit["audited"] and len({s["replicate"] for s in audit["shadows"]}) == 3
    # Six questions: two stay real in each shadow, four are counterfactual.
    assert all(shadow["counterfactual"] == 4 for shadow in audit["shadows"])
    trusted = build(ControllerSpec(f"{FIRST_AGREEMENT}:FirstAgreement", 0.5, trusted=True))
    table = run_episodes(trusted, load_data(small_ref), ReferenceProtocol(6))
    assert result.metrics.accuracy == round(100 * table.correct.mean(), 2)
    assert result.metrics.tokens == pytest.approx(table.cost.mean())


def test_a_file_that_peeks_only_in_long_processes_passes_check_and_fails_evaluation(
    small_ref: DataRef, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = HERE / "late_peeker.py"
    report = check_controller(str(path), [small_ref], betas=(0.5,), seeds=1)
    # Four cells of six episodes: honest in the check's worker and in its audits.
    assert report.verdict == "accepted", report.detail
    # Five of twenty replicates replayed, each in a fresh worker: the evaluation's worker
    # peeked from its 41st episode (replicate 7) on, the shadows' never do.
    monkeypatch.setenv(AUDITS_VARIABLE, "5")
    monkeypatch.setenv(SHARE_VARIABLE, "1")
    job = EvalJob(small_ref, ControllerSpec(str(path), 0.5), ReferenceProtocol(20))
    with pytest.raises(CandidateRejected) as caught:
        evaluate(job)
    # Its play depends on how many episodes its process has played: on the shadow's real
    # questions as on its counterfactual ones.
    assert caught.value.reason in {"nondeterministic", "peeking"}, caught.value.detail
    assert "fresh process" in caught.value.detail


def test_the_audit_replays_secret_replicates_of_every_cell() -> None:
    policy = AuditPolicy(b"k" * 32, audits=2)
    picks = [policy.replicates(f"cell {i}", 100) for i in range(200)]
    assert all(len(set(p)) == 2 for p in picks)
    assert len({r for p in picks for r in p}) > 90  # spread over the cell, not fixed
    assert AuditPolicy(b"other key" * 4, audits=2).replicates("cell 0", 100) != picks[0]
    assert AuditPolicy(b"k" * 32, audits=0).replicates("cell", 100) == []
    assert AuditPolicy(b"k" * 32, audits=2).replicates("cell", 1) == [0]
    # A share of the cells: about that many, each drawn with the key.
    half = AuditPolicy(b"k" * 32, audits=1, share=0.5)
    audited = sum(bool(half.replicates(f"cell {i}", 100)) for i in range(400))
    assert 150 < audited < 250


def test_known_gold_answers_gain_nothing_under_the_renaming() -> None:
    ref = DataRef("synthetic", "Synth-Large", "aime24")
    protocol = ReferenceProtocol(2)
    path = HERE / "synthetic_gold.py"
    trusted = run_episodes(
        build(ControllerSpec(f"{path}:KnowsGold", 0.5, trusted=True)), load_data(ref), protocol
    )
    sandboxed = evaluate(EvalJob(ref, ControllerSpec(str(path), 0.5), protocol))
    # In process it returns the real gold answers; in the sandbox those are no labels.
    assert trusted.correct.mean() > 0.95
    assert sandboxed.metrics.accuracy == 0


def test_a_slow_decline_over_beta_is_rejected(small_ref: DataRef) -> None:
    report = check_controller(str(HERE / "slow_decline.py"), [small_ref], seeds=4)
    assert (report.verdict, report.reason) == ("rejected", "non-monotone"), report.detail
    assert "below the most at any smaller β" in report.detail


def test_a_notch_between_the_coarse_grid_points_is_rejected(small_ref: DataRef) -> None:
    report = check_controller(str(HERE / "notch.py"), [small_ref], seeds=2)
    assert (report.verdict, report.reason) == ("rejected", "non-monotone"), report.detail
    # The notch is [0.24, 0.26]: the fine grid's 0.25 (or a random β) falls in it.
    notch = float(report.detail.rsplit("β=", 1)[1].split(" ")[0])
    assert 0.24 <= notch <= 0.26
