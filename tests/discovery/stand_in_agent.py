"""A stand-in for a coding agent: checks its workspace, then edits controller.py.

Run as ``python stand_in_agent.py [TASK]`` inside a round's workspace. It widens
the schedule of the controller it finds, by rewriting the file it was given.
"""

import sys
from pathlib import Path

here = Path.cwd()
for needed in ("TASK.md", "API.md", "HISTORY.md", "controller.py", "baselines/cmc.py"):
    if not (here / needed).is_file():
        sys.exit(f"workspace lacks {needed}")
task = sys.stdin.read()
if "controller.py" not in task or len(sys.argv) < 2:
    sys.exit("no task given")
history = (here / "HISTORY.md").read_text()
rounds_seen = history.count("### Round ")
code = f'''"""Stand-in agent's candidate after seeing {rounds_seen} earlier rounds."""

from autotts import Controller, Session, majority


def wider_schedule(beta: float) -> int:
    return max(1, round(2 + {10 + rounds_seen} * beta))


class Wider(Controller):
    name = "wider"

    def __init__(self, beta: float = 0.5) -> None:
        self.beta = beta
        self.n = wider_schedule(beta)

    def solve(self, session: Session) -> str | None:
        answers = []
        while len(answers) < self.n and session.can_branch:
            answers.append(session.full_read())
        session.trace("finish", output={{"stop_reason": "read n"}})
        return majority(answers)
'''
(here / "controller.py").write_text(code)
(here / "SUMMARY.md").write_text(f"Wider full-read vote; saw {rounds_seen} rounds.\n")
print("edited controller.py")
