"""What every tool returns and what it may read (shared by the toolbox and the online tools)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from pydantic import BaseModel, Field

from sinoloc.agent.schemas import ToolStatus
from sinoloc.agent.settings import LocateRequest
from sinoloc.agent.state import evidence_in, request_of
from sinoloc.tools.evidence import Evidence, IgnoredText
from sinoloc.tools.images import ImageMeta
from sinoloc.tools.ocr import OcrSpan
from sinoloc.tools.online.client import OutboundQuery


class ToolOutput(BaseModel):
    """Every tool's result schema: a status, the text the caller reads, and typed findings."""

    status: ToolStatus
    summary: str = Field(description="what the caller (a person or a model) reads")
    evidence: list[Evidence] = Field(default_factory=list)
    ocr_spans: list[OcrSpan] = Field(default_factory=list)
    ignored_text: list[IgnoredText] = Field(default_factory=list)
    poi_queries: list[dict] = Field(default_factory=list)
    outbound: list[OutboundQuery] = Field(default_factory=list, description=(
        "every query this call sent to an online service (or answered from the cache)"))
    data: dict = Field(default_factory=dict)
    images: list[dict] = Field(default_factory=list, description=(
        "images for the model to look at ({path, sha256, mime_type, caption}: files in the "
        "image cache, never pixels in state), shown to it in its next request"))


@dataclass(frozen=True)
class ToolContext:
    """What a tool may read, typed: the request, the image metadata and what earlier calls
    found (validated once, when the tools node reads the state)."""

    request: LocateRequest
    image: ImageMeta | None = None
    ocr_spans: list[OcrSpan] = field(default_factory=list)
    evidence: list[Evidence] = field(default_factory=list)

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> ToolContext:
        image = state.get("image")
        return cls(request=request_of(state),
                   image=ImageMeta.model_validate(image) if image else None,
                   ocr_spans=[OcrSpan.model_validate(s) for s in state.get("ocr_spans") or []],
                   evidence=evidence_in(state))

    def with_found(self, ocr_spans: list[OcrSpan], evidence: list[Evidence]) -> ToolContext:
        """This context with what a call found added (the next call sees it)."""
        return replace(self, ocr_spans=[*self.ocr_spans, *ocr_spans],
                       evidence=[*self.evidence, *evidence])

    @property
    def image_sha256(self) -> str | None:
        """The content hash that finds the run's decoded image (:func:`run_image`)."""
        return self.image.sha256 if self.image is not None else None
