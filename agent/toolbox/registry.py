"""The tools the policy calls, as plain typed functions over a read-only view of the state, and
their registry.

Each tool takes a pydantic argument model and returns a :class:`ToolOutput`; the runner assigns
ids and records the trace (:mod:`sinoloc.agent.toolbox.runner`). The deterministic policy and a
language model call the very same functions (LangChain wrappers are generated from these
specs). The tools live by what they read: :mod:`~sinoloc.agent.toolbox.image`,
:mod:`~sinoloc.agent.toolbox.text`, :mod:`~sinoloc.agent.toolbox.places`; how they are described
to a model is :mod:`~sinoloc.agent.toolbox.definitions`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pydantic import BaseModel

from sinoloc.agent.toolbox.context import ToolContext, ToolOutput
from sinoloc.agent.toolbox.image import NoArgs, OcrArgs, cnn_prior, no_prior, ocr
from sinoloc.agent.toolbox.mapview import MapViewArgs, map_view, no_map_view
from sinoloc.agent.toolbox.places import (
    GeocodeArgs,
    ReverseArgs,
    WebSearchArgs,
    geocode_poi,
    no_web_search,
    reverse_geocode,
    web_search,
)
from sinoloc.agent.toolbox.text import CluesArgs, KnowledgeArgs, lookup_clues, lookup_knowledge

A = TypeVar("A", bound=BaseModel)


@dataclass(frozen=True)
class ToolSpec(Generic[A]):
    """A tool, described once: its name and description for the policy, its arguments' schema,
    the function that runs it on validated arguments, whether it reads the image's pixels (not
    offered without an image), whether it runs in every image's prelude (in registry order), and
    why it cannot run in a request's configuration (``unavailable(request)``: a reason, or None;
    such a tool is not offered to a model)."""

    name: str
    description: str
    args_model: type[A]
    run: Callable[[A, ToolContext], ToolOutput]
    reads_image: bool = False
    in_prelude: bool = False
    unavailable: Callable[[Any], str | None] | None = None


TOOLS: dict[str, ToolSpec[Any]] = {spec.name: spec for spec in (
    ToolSpec("cnn_prior", "Visual prior: the most probable provinces, cities and districts "
             "from the image's appearance alone (a trained classifier or zero-shot CLIP), "
             "calibrated; fusion starts from it.", NoArgs, cnn_prior, reads_image=True,
             in_prelude=True, unavailable=no_prior),
    ToolSpec("ocr", "Read text in the image: all views, one panorama heading, or a zoomed box.",
             OcrArgs, ocr, reads_image=True, in_prelude=True),
    ToolSpec("lookup_clues", "Find addresses, town and village names, phone numbers, licence "
             "plates and road codes in OCR spans or given text; returns evidence ids.", CluesArgs,
             lookup_clues, in_prelude=True),
    ToolSpec("geocode_poi", "Geocode a shop, road, landmark or address.", GeocodeArgs,
             geocode_poi),
    ToolSpec("reverse_geocode", "Province / city / district of a WGS-84 point.", ReverseArgs,
             reverse_geocode),
    ToolSpec("web_search", "Search the web for a name or slogan.", WebSearchArgs, web_search,
             unavailable=no_web_search),
    ToolSpec("lookup_knowledge", "Look up the China clue knowledge base (scripts, plates, "
             "signs, bollards, poles, architecture, vegetation, soil, climate, landmarks, "
             "chains, dialect words): cited entries with the regions they point to; with "
             "seen_in_image the matching entries become evidence.", KnowledgeArgs,
             lookup_knowledge),
    ToolSpec("map_view", "Look at a static road map and a satellite view around a WGS-84 "
             "point (a red marker on it) to check a hypothesis against the photo: street "
             "layout, rivers, rail, block and campus shapes. zoom 10 ≈ a city … 18 ≈ a block.",
             MapViewArgs, map_view, unavailable=no_map_view),
)}


SUBMIT_TOOL = "submit_answer"
IMAGE_TOOLS = frozenset(name for name, spec in TOOLS.items() if spec.reads_image)
PRELUDE = tuple(name for name, spec in TOOLS.items() if spec.in_prelude)
