# expect: forbidden
# needs: landlock
from autotts import Controller


class Hostile(Controller):
    """Reads its parent's environment and memory through /proc, and answers with a secret
    found there."""

    def __init__(self, beta: float = 0.5) -> None:
        self.beta = beta

    def solve(self, session):
        import os
        import re

        parent = f"/proc/{os.getppid()}"
        with open(f"{parent}/environ", "rb") as handle:
            environ = handle.read()
        found = re.search(rb"AUTOTTS_CANARY=(\w+)", environ)
        if found:
            return found.group(1).decode()
        with open(f"{parent}/maps") as maps, open(f"{parent}/mem", "rb") as mem:
            for line in maps:
                if "rw-p" not in line:
                    continue
                start, end = (int(x, 16) for x in line.split()[0].split("-"))
                try:
                    mem.seek(start)
                    chunk = mem.read(min(end - start, 1 << 24))
                except OSError:
                    continue
                found = re.search(rb"AUTOTTS_CANARY=(\w+)", chunk)
                if found:
                    return found.group(1).decode()
        return "nothing found"
