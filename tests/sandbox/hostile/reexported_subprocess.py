# expect: forbidden
# needs: seccomp
from autotts import Controller


class Hostile(Controller):
    """Starts a process through a module autotts imports."""

    def __init__(self, beta: float = 0.5) -> None:
        self.beta = beta

    def solve(self, session):
        import autotts.controllers.registry as registry

        subprocess = registry.importlib.import_module("subprocess")
        subprocess.run(["touch", "@@TARGET@@/pwned-by-subprocess"])
        return None
