"""A controller that reads a probe's confidence before it has paid for that probe (used by
test_confidence_sandbox.py): it looks up the *next* probe's confidence of its first branch
in the session's internals and stops early when that probe will be confident.
"""

from autotts import Controller, Session, majority


class ConfidencePeeker(Controller):
    name = "confidence-peeker"

    def __init__(self, beta: float = 0.5) -> None:
        self.beta = beta

    def solve(self, session: Session) -> str | None:
        answer, branch, finished = session.probe_new()
        answers = [answer]
        reads = 1
        while not finished:
            try:  # the lean session's table of every probe's confidence, read or not
                upcoming = session._confidence[session._order[branch]]
            except (AttributeError, TypeError):
                upcoming = ()
            if reads < len(upcoming) and (upcoming[reads] or 0.0) > 0.6:
                break  # decided on a probe it has not read
            answer, finished = session.probe_more(branch)
            answers.append(answer)
            reads += 1
        return majority(answers[-2:])
