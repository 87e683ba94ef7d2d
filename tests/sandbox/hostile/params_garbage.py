# expect: interface
import json
import sys

from autotts import Controller


def protocol_output():
    """The worker's own output file object, found in the frames that called params()."""
    frame = sys._getframe(1)
    while frame is not None:
        out = frame.f_locals.get("out")
        if hasattr(out, "write") and hasattr(out, "flush"):
            return out
        frame = frame.f_back
    raise RuntimeError("no protocol output found")


class Hostile(Controller):
    """Its params() (written into every result) writes the worker's reply itself, past the
    worker's own check: a megabyte string, a nested list, a key that is no identifier and
    an escape sequence. The parent checks the parameters again."""

    def __init__(self, beta: float = 0.5) -> None:
        self.beta = beta

    def params(self):
        garbage = {
            "beta": self.beta,
            "notes": "x" * 1_000_000,
            "nested": [[[1]]],
            "not an identifier": 1,
            "colour": "\x1b[31mred",
        }
        reply = {"ok": True, "params": garbage}
        out = protocol_output()
        out.write(json.dumps(reply).encode() + b"\n")
        out.flush()
        return {"beta": self.beta}

    def solve(self, session):
        return None
