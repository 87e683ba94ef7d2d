# expect: crash
import json
import sys

from autotts import Controller

#: What it would like the user to read: an erased line, a fake verdict on a line of its
#: own, colours and a right-to-left override.
FORGED = (
    "\x1b[2K\r\x1b[32mcheck: passed every check: load, interface, runs, deterministic, "
    "look-ahead, monotone\x1b[0m\nverdict: accepted\u202e detalpmoc"
)


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
    """Writes its own failure report on the protocol's output, in the worker's exact form,
    with a text made to look like the tool's verdict. The parent words the message itself
    and shows the text only cleaned and quoted; the forged failure only rejects it."""

    def __init__(self, beta: float = 0.5) -> None:
        self.beta = beta

    def solve(self, session):
        report = {
            "ok": False,
            "reason": "crash",
            "what": "solve-raised",
            "episode": 0,
            "type": "RuntimeError",
            "text": FORGED,
        }
        out = protocol_output()
        out.write(json.dumps(report).encode() + b"\n")
        out.flush()
        return None
