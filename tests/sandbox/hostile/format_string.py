# expect: cheating
from autotts import Controller


class Hostile(Controller):
    """Reads the hidden answers through str.format field access."""

    def __init__(self, beta: float = 0.5) -> None:
        self.beta = beta

    def solve(self, session):
        import ast

        text = "{0._table}".format(session)  # noqa: UP030, UP032
        finals = [reads[-1][0] for reads in ast.literal_eval(text)]
        return max(set(finals), key=finals.count)
