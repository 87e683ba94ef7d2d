"""A controller's Session exposes no gold answer and nothing beyond the documented API."""

from __future__ import annotations

import re
import types
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from autotts.controllers.base import Controller
from autotts.data.records import ReplaySet
from autotts.env.episode import Episode
from autotts.env.ordering import reference_order
from autotts.env.session import Session
from autotts.evaluation.protocols import ReferenceProtocol
from autotts.evaluation.runner import run_episodes
from tests.helpers import make_replay, random_branches

#: A gold answer no branch ever produces, so finding it anywhere means it leaked.
GOLD = "GOLD-7f3a9c-sentinel"

PUBLIC_API = {
    "probe_new",
    "probe_more",
    "full_read",
    "probe_confidence",
    "get_new_branch_final_answer",
    "probe_freq",
    "branches_opened",
    "can_branch",
    "tokens_used",
    "tracing",
    "trace",
}

_OPAQUE = (
    types.ModuleType,
    types.FunctionType,
    types.BuiltinFunctionType,
    types.MethodType,
    types.MethodWrapperType,
    type,
)


def reachable(root: object, max_depth: int = 12) -> Iterator[object]:
    """Every object reachable from ``root`` through instance state, to ``max_depth`` hops.

    Follows ``__dict__`` and ``__slots__`` values, the values of non-callable public
    attributes (properties), container items and dict keys, and the elements of
    object or string NumPy arrays; stops at modules, functions, methods and classes,
    which hold code, not episode state.
    """
    seen: set[int] = set()
    stack: list[tuple[object, int]] = [(root, 0)]
    while stack:
        obj, depth = stack.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        yield obj
        if depth >= max_depth or isinstance(obj, (str, bytes, int, float, complex, *_OPAQUE)):
            continue
        children: list[Any] = []
        if isinstance(obj, dict):
            children += [*obj.keys(), *obj.values()]
        elif isinstance(obj, (list, tuple, set, frozenset)):
            children += list(obj)
        elif isinstance(obj, np.ndarray):
            if obj.dtype.kind in "OUS":
                children += obj.ravel().tolist()
        else:
            for cls in type(obj).__mro__:
                for name in getattr(cls, "__slots__", ()):
                    if hasattr(obj, name):
                        children.append(getattr(obj, name))
            children += list(getattr(obj, "__dict__", {}).values())
            for name in dir(obj):
                if name.startswith("__"):
                    continue
                try:
                    value = getattr(obj, name)
                except Exception:  # a property may refuse; then it shows nothing
                    continue
                if not callable(value):
                    children.append(value)
        stack.extend((child, depth + 1) for child in children)


def _leaks(root: object, gold: str) -> list[str]:
    return [repr(obj)[:80] for obj in reachable(root) if isinstance(obj, str) and gold in obj]


def _replay(seed: int) -> ReplaySet:
    rng = np.random.default_rng(seed)
    questions = [random_branches(rng, 10, alphabet=4) for _ in range(3)]
    return make_replay(questions, gold=[GOLD] * 3, texts=[f"what is {i}?" for i in range(3)])


def _play(session: Session, rng: np.random.Generator) -> None:
    """A mix of every read primitive, so the state holds revealed answers of all kinds."""
    for _ in range(30):
        u = rng.random()
        if session.can_branch and u < 0.3:
            session.probe_new()
        elif session.can_branch and u < 0.4:
            session.full_read()
        elif session.branches_opened:
            session.probe_more(int(rng.integers(session.branches_opened)))
        if session.tracing:
            session.trace("read", state={"tokens": session.tokens_used})


def test_the_walk_finds_a_planted_string() -> None:
    replay = _replay(0)
    episode = Episode(replay.questions[0], list(range(10)))
    assert _leaks(Session(episode), "what is") == []  # the question text is not kept either
    assert _leaks(Session(episode, [{"planted": GOLD}]), GOLD) == [repr(GOLD)]
    session = Session(episode)
    session.probe_new()
    answer = episode.revealed_answer(0, -1 if episode.finished[0] else 1)
    assert any(obj == answer for obj in reachable(session))


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("tracing", [False, True])
def test_a_session_reaches_no_gold_answer(seed: int, tracing: bool) -> None:
    replay = _replay(seed)
    rng = np.random.default_rng(seed)
    for q, question in enumerate(replay.questions):
        assert replay.gold[q] == GOLD
        assert GOLD not in question.answers
        session = Session(Episode(question, reference_order(10, seed)), [] if tracing else None)
        assert _leaks(session, GOLD) == []
        _play(session, rng)
        assert _leaks(session, GOLD) == []
        assert _leaks(question, GOLD) == []  # what a session is built from holds none either


def test_a_session_handed_to_a_controller_by_the_runner_reaches_no_gold() -> None:
    found: list[list[str]] = []
    walked: list[int] = []

    class Walker(Controller):
        name = "walker"

        def solve(self, session: Session) -> str | None:
            _play(session, np.random.default_rng(len(walked)))
            found.append(_leaks(session, GOLD))
            walked.append(sum(1 for _ in reachable(session)))
            return None

    replay = _replay(5)
    records: list[Any] = []
    run_episodes(
        Walker(),
        replay,
        ReferenceProtocol(seeds=3),
        trace_sink=lambda r, q, record: records.append(record),
    )
    assert len(found) == 9
    assert found == [[]] * 9
    assert min(walked) > 20  # the walk did look at the episode state
    assert len(records) == 9


def test_session_state_does_not_depend_on_the_gold_answer() -> None:
    """Even a gold that branches do produce leaves no trace: two golds, identical sessions."""
    rng = np.random.default_rng(11)
    branches = random_branches(rng, 8, alphabet=3)
    finals = sorted({final for _, _, final in branches})
    snapshots = []
    for gold in finals[:2] if len(finals) > 1 else [finals[0], "other"]:
        question = make_replay([branches], gold=[gold]).questions[0]
        session = Session(Episode(question, reference_order(8, 3)), [])
        _play(session, np.random.default_rng(0))
        state = (re.sub(r" at 0x[0-9a-f]+", "", repr(o)) for o in reachable(session))
        snapshots.append(sorted(state))
    assert snapshots[0] == snapshots[1]


def test_a_session_exposes_only_the_documented_public_api() -> None:
    session = Session(Episode(_replay(0).questions[0], [0, 1]))
    assert {name for name in dir(session) if not name.startswith("_")} == PUBLIC_API
    assert {name for name in dir(Session) if not name.startswith("_")} == PUBLIC_API
    with pytest.raises(AttributeError):
        session.gold = GOLD  # type: ignore[attr-defined]  # __slots__: no new attributes
