"""Controllers: the interface, the registry, the built-ins and their vectorised forms."""

from __future__ import annotations

from importlib import resources

__all__ = ["api_description"]


def api_description() -> str:
    """The controller API in a page of Markdown: what a controller author (or an LLM) reads."""
    return resources.files(__name__).joinpath("controller_api.md").read_text("utf-8")
