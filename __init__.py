"""sinoloc: an agentic geolocator for photos taken in China.

``Geolocator().locate(image) -> GeoPrediction``; ``build_graph()`` returns the LangGraph graph
(to run alone, with a checkpointer for threads, or as a subgraph); ``GeolocateTool`` and
``sinoloc.tools.get_tools()`` put it in other LangChain agents. Heavy modules are imported on
first use, so ``import sinoloc`` stays cheap.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

from sinoloc.tools.privacy import disable_telemetry

# before anything else loads: onnxruntime and the hub read their telemetry setting once, on import
disable_telemetry()

__version__ = "0.1.0"
_EXPORTS = {
    "Geolocator": ".agent.api",
    "GeoPrediction": ".agent.schemas",
    "LocateSettings": ".agent.settings",
    "build_graph": ".agent.graph",
    "GeolocateTool": ".agent.toolbox.langchain",
    "get_tools": ".agent.toolbox.langchain",
    "ImageInputError": ".tools.images",
}
__all__ = ["GeoPrediction", "GeolocateTool", "Geolocator", "ImageInputError", "LocateSettings",
           "build_graph", "get_tools"]  # the keys of _EXPORTS (a test keeps them equal)

if TYPE_CHECKING:
    from sinoloc.agent.api import Geolocator
    from sinoloc.agent.graph import build_graph
    from sinoloc.agent.schemas import GeoPrediction
    from sinoloc.agent.settings import LocateSettings
    from sinoloc.agent.toolbox.langchain import GeolocateTool, get_tools
    from sinoloc.tools.images import ImageInputError


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name], __name__), name)
    raise AttributeError(f"module 'sinoloc' has no attribute {name!r}")
