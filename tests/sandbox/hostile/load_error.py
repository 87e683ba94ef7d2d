# expect: load
import not_a_module_anywhere  # noqa: F401

from autotts import Controller


class Hostile(Controller):
    """Imports a module that does not exist."""

    def solve(self, session):
        return None
