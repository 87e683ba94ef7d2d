"""The optional dependencies (pyproject's extras) and the one message for a missing one.

``pip install autotts`` installs only what the replay environment, the controllers and
the CLI need. Serving, collecting, plotting, the numerical optimiser, Ray and the LLM
proposers import their packages where they are used, inside :func:`needs`, so that a
missing package ends the command with ``error: ... pip install 'autotts[EXTRA]'`` and
exit code 2, not a ``ModuleNotFoundError`` traceback.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from contextlib import contextmanager

from autotts.errors import UsageError

__all__ = ["EXTRAS", "MissingExtra", "needs", "require"]

#: extra -> the top-level modules its packages install (a test keeps this equal to
#: pyproject's ``[project.optional-dependencies]``)
EXTRAS: dict[str, tuple[str, ...]] = {
    "plot": ("matplotlib",),
    "llm": ("openai", "anthropic"),
    "live": ("openai", "starlette", "uvicorn", "math_verify"),
    "optimize": ("optuna", "cmaes"),
    "ray": ("ray",),
}


class MissingExtra(UsageError):
    """A feature's optional package is not installed."""

    def __init__(self, what: str, module: str, extra: str) -> None:
        self.module = module
        self.extra = extra
        super().__init__(
            f"{what} needs {module}, which is not installed: pip install 'autotts[{extra}]'"
        )


@contextmanager
def needs(extra: str, what: str) -> Iterator[None]:
    """Run the imports in the block; a module of ``extra`` that is missing becomes
    :class:`MissingExtra` naming ``what`` (the feature) and the install command.

    A missing module that the extra does not provide is re-raised unchanged: that is a
    broken installation or a bug, and the traceback says which."""
    modules = EXTRAS[extra]
    try:
        yield
    except ModuleNotFoundError as exc:
        top = (exc.name or "").partition(".")[0]
        if top not in modules:
            raise
        raise MissingExtra(what, top, extra) from None


def require(extra: str, what: str, *modules: str) -> None:
    """Import ``modules`` (default: all of the extra's) now, before any work is done, so
    a command fails at its start rather than after loading data or in a worker process."""
    with needs(extra, what):
        for module in modules or EXTRAS[extra]:
            importlib.import_module(module)
