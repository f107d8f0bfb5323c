"""sinoloc inside other LangChain / LangGraph agents.

- :func:`get_tools` gives the geolocator's own tools (OCR, clues, geocoding, knowledge, …) as
  LangChain tools over one :class:`ToolSession`, so an outside agent can do the reasoning itself
  with evidence numbered exactly as in the graph (E1, E2, …).
- :class:`GeolocateTool` runs the whole graph on an image and returns the prediction: a compact
  JSON summary as the message content, the full :class:`GeoPrediction` as the artifact.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from langchain_core.tools import BaseTool, StructuredTool, ToolException
from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema

from sinoloc.agent.schemas import GeoPrediction
from sinoloc.agent.settings import LocateRequest, LocateSettings
from sinoloc.agent.state import evidence_in
from sinoloc.agent.toolbox.registry import IMAGE_TOOLS, TOOLS
from sinoloc.agent.toolbox.runner import execute_calls, tool_call
from sinoloc.tools.evidence import Evidence
from sinoloc.tools.image_sources import image_to_path
from sinoloc.tools.images import ImageInputError, load_image

SUMMARY_CANDIDATES = 3


class ToolSession:
    """The graph's tools for one image, run outside the graph: each call sees what the earlier
    ones found, evidence and OCR spans are numbered across calls, and the trace is kept."""

    def __init__(self, image: Any = None, settings: LocateSettings | dict | None = None):
        given = settings.model_dump(exclude_unset=True) if isinstance(settings, LocateSettings) \
            else dict(settings or {})
        meta: dict = {}
        path = ""
        if image is not None:
            path = str(image_to_path(image))
            meta = load_image(path).meta.model_dump(mode="json")
        self.has_image = image is not None
        self.state: dict = {"request": LocateRequest(image_path=path, **given).model_dump(),
                            "image": meta, "evidence": [], "ocr_spans": [], "tool_trace": [],
                            "poi_queries": [], "outbound": []}

    def run(self, name: str, args: dict) -> tuple[str, dict]:
        """Run one tool: the text a model reads, and the new findings as the artifact."""
        update = execute_calls(self.state, [tool_call(name, args)])
        for key in ("evidence", "ocr_spans", "tool_trace", "poi_queries", "outbound"):
            self.state[key] = [*self.state[key], *update[key]]
        message = update["messages"][0]
        artifact = {"trace": update["tool_trace"][0], "evidence": update["evidence"],
                    "ocr_spans": update["ocr_spans"],
                    "images": (message.artifact or {}).get("images", [])}  # map_view
        return update["messages"][0].content, artifact

    @property
    def evidence(self) -> list[Evidence]:
        return evidence_in(self.state)

    def tools(self, names: list[str] | None = None) -> list[BaseTool]:
        available = [n for n in TOOLS if self.has_image or n not in IMAGE_TOOLS]
        unknown = set(names or []) - set(TOOLS)
        if unknown:
            raise ValueError(f"unknown tools {sorted(unknown)}; choose from {sorted(TOOLS)}")
        chosen = [n for n in available if names is None or n in names]
        return [self._as_tool(name) for name in chosen]

    def _as_tool(self, name: str) -> BaseTool:
        spec = TOOLS[name]

        def run(**kwargs) -> tuple[str, dict]:
            return self.run(name, kwargs)

        return StructuredTool.from_function(
            func=run, name=name, description=spec.description, args_schema=spec.args_model,
            response_format="content_and_artifact")


def get_tools(image: Any = None, *, names: list[str] | None = None,
              settings: LocateSettings | dict | None = None) -> list[BaseTool]:
    """sinoloc's tools as LangChain tools over one image (path, bytes, PIL image, base64).
    Without an image the tools that read pixels (``cnn_prior``, ``ocr``) are left out."""
    return ToolSession(image, settings).tools(names)


def prediction_summary(p: GeoPrediction) -> dict:
    """What an agent reads from a prediction: the answer, its confidence, the top candidates and
    the evidence in one line each."""
    return {
        "province": p.province, "city": p.city, "district": p.district,
        "district_adcode": p.district_adcode, "lat": p.lat, "lon": p.lon,
        "coordinate_system": p.coordinate_system, "precision_km": p.precision_km,
        "confidence": p.confidence.model_dump(), "basis": p.basis,
        "candidates": [{"district": f"{c.province}{c.city or ''}{c.district}",
                        "adcode": c.adcode, "probability": c.probability}
                       for c in p.candidates[:SUMMARY_CANDIDATES]],
        "evidence": [f"{e.id} {e.kind.value}: {e.text} → {e.detail}" for e in p.evidence],
        "reasoning": p.reasoning,
        "warnings": p.warnings,
    }


class GeolocateArgs(BaseModel):
    image: Annotated[str | bytes, WithJsonSchema({
        "type": "string",
        "description": "path of the image file, or the image as base64 / a data: URI"})]


class GeolocateTool(BaseTool):
    """Locate a photo or street-view panorama taken in China with the whole sinoloc graph.
    Give it a configured ``geolocator`` (a :class:`~sinoloc.Geolocator`) or it builds the
    offline default."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    name: str = "geolocate_image"
    description: str = (
        "Find where in China a photo or street-view panorama was taken: province, city, "
        "district and WGS-84 coordinates, with confidence, ranked candidates and the evidence "
        "(signs, phone numbers, plates, landmarks) behind the answer.")
    args_schema: type[BaseModel] = GeolocateArgs
    response_format: Literal["content", "content_and_artifact"] = "content_and_artifact"
    handle_tool_error: bool = True  # a bad image becomes a message to the agent, not a crash
    geolocator: Any = Field(default=None, exclude=True)

    def model_post_init(self, context: Any) -> None:
        if self.geolocator is None:
            from sinoloc.agent.api import Geolocator

            self.geolocator = Geolocator()

    @staticmethod
    def _output(prediction: GeoPrediction) -> tuple[str, GeoPrediction]:
        return json.dumps(prediction_summary(prediction), ensure_ascii=False), prediction

    def _run(self, image: str | bytes, run_manager=None) -> tuple[str, GeoPrediction]:
        try:
            return self._output(self.geolocator.locate(image))
        except ImageInputError as exc:
            raise ToolException(str(exc)) from exc

    async def _arun(self, image: str | bytes, run_manager=None) -> tuple[str, GeoPrediction]:
        try:
            return self._output(await self.geolocator.alocate(image))
        except ImageInputError as exc:
            raise ToolException(str(exc)) from exc
