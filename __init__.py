"""sinoloc: an agentic geolocator for photos taken in China.

``Geolocator().locate(path) -> GeoPrediction``; ``build_graph()`` returns the LangGraph graph.
Heavy modules are imported on first use, so ``import sinoloc`` stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

__version__ = "0.1.0"
__all__ = ["GeoPrediction", "Geolocator", "ImageInputError", "build_graph"]

if TYPE_CHECKING:
    from .agent.api import Geolocator
    from .agent.graph import build_graph
    from .agent.schemas import GeoPrediction
    from .tools.images import ImageInputError


def __getattr__(name: str):
    if name == "Geolocator":
        from .agent.api import Geolocator

        return Geolocator
    if name == "build_graph":
        from .agent.graph import build_graph

        return build_graph
    if name == "GeoPrediction":
        from .agent.schemas import GeoPrediction

        return GeoPrediction
    if name == "ImageInputError":
        from .tools.images import ImageInputError

        return ImageInputError
    raise AttributeError(name)
