# expect: cheating
import sys

from autotts import Controller


def protocol_output():
    """The worker's own output file object, found in the frames that called solve()."""
    frame = sys._getframe(1)
    while frame is not None:
        out = frame.f_locals.get("out")
        if hasattr(out, "write") and hasattr(out, "flush"):
            return out
        frame = frame.f_back
    raise RuntimeError("no protocol output found")


class Hostile(Controller):
    """Writes 100,000 nested brackets on the protocol's output, as the worker would write a
    result: the evaluator's JSON parser recursing into them must end in a rejection, not in
    a RecursionError that kills check, eval or discover (and discover --resume again)."""

    def __init__(self, beta: float = 0.5) -> None:
        self.beta = beta

    def solve(self, session):
        out = protocol_output()
        out.write(b"[" * 100_000 + b"\n")
        out.flush()
        answer, _, _ = session.probe_new()
        return answer
