"""Round 1 of the example search: a fixed number of full reads, then the majority.

Valid but not adaptive: it never looks at how much the answers agree.
"""

from autotts import Controller, Session, majority


def first_votes_schedule(beta: float) -> int:
    """β → number of full reads: 1 at β = 0, 16 at β = 1 (geometric)."""
    return max(1, round(16**beta))


class FirstVotes(Controller):
    name = "first-votes"

    def __init__(self, beta: float = 0.5) -> None:
        self.beta = beta
        self.reads = first_votes_schedule(beta)

    def solve(self, session: Session) -> str | None:
        answers = []
        while len(answers) < self.reads and session.can_branch:
            answers.append(session.full_read())
        session.trace("finish", output={"stop_reason": f"read {len(answers)} branches"})
        return majority(answers)
