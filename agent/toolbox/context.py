"""What every tool returns and what it may read (shared by the toolbox and the online tools)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, Field

from sinoloc.tools.evidence import Evidence, IgnoredText
from sinoloc.tools.ocr import OcrSpan
from sinoloc.tools.online.client import OutboundQuery


class ToolOutput(BaseModel):
    """Every tool's result schema: a status, the text the caller reads, and typed findings."""

    status: Literal["ok", "no_result", "unavailable", "error"]
    summary: str = Field(description="what the caller (a person or a model) reads")
    evidence: list[Evidence] = Field(default_factory=list)
    ocr_spans: list[OcrSpan] = Field(default_factory=list)
    ignored_text: list[IgnoredText] = Field(default_factory=list)
    poi_queries: list[dict] = Field(default_factory=list)
    outbound: list[OutboundQuery] = Field(default_factory=list, description=(
        "every query this call sent to an online service (or answered from the cache)"))
    data: dict = Field(default_factory=dict)


@dataclass(frozen=True)
class ToolContext:
    """What a tool may read: the request, the image metadata and what earlier calls found."""

    request: dict
    image: dict
    ocr_spans: list[dict]
    evidence: list[dict]
