# expect: forbidden
# needs: landlock
from autotts import Controller


class Hostile(Controller):
    """Finds the replay data through its parent's command line and answers with the gold
    answer read from disk."""

    def __init__(self, beta: float = 0.5) -> None:
        self.beta = beta

    def solve(self, session):
        import json
        import os

        with open(f"/proc/{os.getppid()}/cmdline", "rb") as handle:
            argv = handle.read().decode().split("\0")
        for arg in argv:
            for folder, _, files in os.walk(arg):
                for name in files:
                    if name.endswith(".json"):
                        with open(os.path.join(folder, name)) as data:
                            text = json.load(data)
                        return "GOLD " + str(text)[:40]
        return "nothing found"
