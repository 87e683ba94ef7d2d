"""Controller files in the published (upstream) format, run unchanged.

The AutoTTS paper's released controllers and search candidates are plain classes::

    class Method:
        def __init__(self, config=None):
            self.beta = (config or {}).get("beta", 0.5)
        def solve(self, question):
            answer, index, finished = question.probe_new()
            ...

whose ``question`` object offers ``probe_new()``, ``probe_more(i)`` and
``get_new_branch_final_answer()`` — the primitives a
:class:`~autotts.env.session.Session` has under the same names and semantics. So
such a class is wrapped, not translated: :class:`UpstreamController` builds it with
``{"beta": β}`` and hands it the session itself.
"""

from __future__ import annotations

import inspect
from typing import Any, ClassVar

from autotts.controllers.base import Controller
from autotts.env.session import Session

__all__ = ["UpstreamController", "is_upstream_class", "wrap_upstream"]


def is_upstream_class(cls: object) -> bool:
    """Whether ``cls`` has the upstream shape: ``__init__(self, config=None)`` and ``solve``."""
    if not inspect.isclass(cls) or issubclass(cls, Controller):
        return False
    if not callable(getattr(cls, "solve", None)):
        return False
    try:
        parameters = list(inspect.signature(cls).parameters.values())
    except (TypeError, ValueError):
        return False
    return (
        len(parameters) == 1
        and parameters[0].name == "config"
        and parameters[0].default is not inspect.Parameter.empty
    )


class UpstreamController(Controller):
    """A :class:`Controller` around an upstream-format class (see the module docstring)."""

    upstream_class: ClassVar[type[Any]]
    name: ClassVar[str] = "upstream"

    def __init__(self, beta: float = 0.5) -> None:
        self.beta = beta
        self._inner = type(self).upstream_class({"beta": beta})

    def solve(self, session: Session) -> str | None:
        answer: str | None = self._inner.solve(session)
        return answer

    def params(self) -> dict[str, Any]:
        """β plus the scalar attributes the wrapped instance derived from it."""
        out: dict[str, Any] = {"beta": self.beta}
        for key, value in vars(self._inner).items():
            if not key.startswith("_") and isinstance(value, (int, float, str, bool)):
                out[key] = value
        return out


def wrap_upstream(cls: type[Any]) -> type[UpstreamController]:
    """A :class:`UpstreamController` subclass that builds ``cls``; named after it."""
    return type(
        cls.__name__,
        (UpstreamController,),
        {"upstream_class": cls, "name": cls.__name__, "__doc__": cls.__doc__},
    )
