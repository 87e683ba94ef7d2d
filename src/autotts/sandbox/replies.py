"""The replies a worker may send, as the parent accepts them: shapes and failure codes.

Each request has one reply shape (:func:`exactly`, :func:`load_reply`) and a fixed set
of failures it can end in (:data:`REQUEST_FAILURES`), so a candidate cannot pass one
kind of failure off as another. :mod:`autotts.sandbox.client` reads every line against
these; :mod:`autotts.sandbox.protocol` has the checks of the values inside.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from autotts.sandbox.layers import WORKER_LAYERS
from autotts.sandbox.protocol import ProtocolError, is_identifier

__all__ = [
    "EPISODE_FAILURES",
    "FAILURE_KEYS",
    "MESSAGE_LABEL",
    "REQUEST_FAILURES",
    "TEXT_LABEL",
    "exactly",
    "load_reply",
    "no_trace",
]

#: Fields a failure report may have (the worker's ``_serve``).
FAILURE_KEYS = frozenset(
    {"ok", "reason", "what", "episode", "type", "line", "class", "text", "partial"}
)
#: Failures of one episode of a run: they name it, and may carry what it did before.
EPISODE_FAILURES = frozenset({"solve-raised", "bad-return", "bad-answer", "patched", "log"})
#: The failures each request can end in (any request: ``internal``); a report of another
#: is malformed, so a candidate cannot pass a failure of its run off as, say, a load error.
REQUEST_FAILURES = {
    "load": frozenset(
        {"syntax", "load-raised", "no-class", "unknown-class", "abstract", "not-a-controller"}
        | {"signature", "internal"}
    ),
    "build": frozenset({"init-raised", "params-raised", "params", "internal"}),
    "run": EPISODE_FAILURES | {"internal"},
    # one episode over a forwarded session (autotts.sandbox.live_client)
    "session": EPISODE_FAILURES | {"internal"},
}
#: How the candidate's text is introduced: an exception's message, or (below) other text.
MESSAGE_LABEL = "the controller's message"
TEXT_LABEL = {
    "no-class": "controller classes found",
    "unknown-class": "controller classes found",
    "params": "the problem, as the worker put it",
    "internal": "the worker's message",
}


def no_trace(value: object) -> list[dict[str, Any]] | None:
    """The trace of an untraced episode's partial: there is none."""
    if value is not None:
        raise ProtocolError("an untraced episode sent a trace")
    return None


def exactly(*names: str) -> Callable[[dict[str, Any]], bool]:
    """A reply shape: exactly these fields (their values are checked by the caller)."""
    expected = frozenset(names)
    return lambda reply: reply.keys() == expected


def load_reply(reply: dict[str, Any]) -> bool:
    signature, layers = reply.get("signature"), reply.get("layers")
    return (
        reply.keys() == {"ok", "kind", "class", "signature", "layers"}
        and reply["kind"] in ("native", "upstream")
        and is_identifier(reply["class"])
        and type(signature) is list
        and len(signature) <= 256
        and all(
            type(p) is dict
            and p.keys() == {"name", "required"}
            and is_identifier(p["name"])
            and type(p["required"]) is bool
            for p in signature
        )
        and type(layers) is list
        and len(set(layers)) == len(layers) <= len(WORKER_LAYERS)
        and all(layer in WORKER_LAYERS for layer in layers)
    )
