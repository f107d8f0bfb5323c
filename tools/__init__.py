"""Offline tools of the geolocator: regions, coordinate systems, images, OCR, clues, knowledge.

Each module exposes plain typed functions first; LangChain tool wrappers are thin layers on top:
``sinoloc.tools.get_tools(image)`` returns them over one image.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sinoloc.agent.toolbox.langchain import get_tools

__all__ = ["get_tools"]


def __getattr__(name: str):
    if name == "get_tools":  # lazy: importing a tool module must not import the agent
        from sinoloc.agent.toolbox.langchain import get_tools

        return get_tools
    raise AttributeError(f"module 'sinoloc.tools' has no attribute {name!r}")
