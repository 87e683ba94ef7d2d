"""Answers only in the first three episodes its module runs, by three counters of module
state: a class attribute, a module-level list and a global the file rebinds; and never
if its globals were there before it was loaded."""

from autotts import Controller, Session

SEEN: list[int] = []
RUNS = 0
LOADS = globals().get("LOADS", 0) + 1  # 1 unless the globals of an earlier load are left


class Stateful(Controller):
    name = "stateful"
    calls = 0  # module state: grows over every episode this module object runs

    def __init__(self, beta: float = 0.5) -> None:
        self.beta = beta

    def solve(self, session: Session) -> str | None:
        global RUNS
        type(self).calls += 1
        SEEN.append(1)
        RUNS += 1
        answer, _branch, _finished = session.probe_new()
        return answer if max(type(self).calls, len(SEEN), RUNS) <= 3 and LOADS == 1 else None
