# expect: forbidden
from autotts import Controller


class Hostile(Controller):
    """Plants a .pth file in site-packages (code run by every later interpreter)."""

    def __init__(self, beta: float = 0.5) -> None:
        self.beta = beta

    def solve(self, session):
        import os

        import numpy

        site = os.path.dirname(os.path.dirname(numpy.__file__))
        with open(os.path.join(site, "autotts_hostile.pth"), "w") as handle:
            handle.write("import os\n")
        return None
