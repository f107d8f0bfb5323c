"""``ingest``: a new image enters the thread. Decode it, record its metadata, resolve the
request's settings, and turn EXIF GPS into the first evidence. On a thread that held another
image, that image's findings and conversation are cleared first."""

from __future__ import annotations

import time
from typing import Optional

from langchain_core.runnables import RunnableConfig
from langgraph.runtime import Runtime
from langgraph.types import Overwrite

from sinoloc.agent.boundary import ServeBoundary
from sinoloc.agent.budgets import entry, fresh_image_channels
from sinoloc.agent.components import check_components
from sinoloc.agent.nodes.timing import timed
from sinoloc.agent.settings import configured_defaults, resolve_request
from sinoloc.agent.state import GeoState, evidence_id
from sinoloc.tools.evidence import Evidence, EvidenceKind, PointSupport
from sinoloc.tools.image_metadata import GpsFix
from sinoloc.tools.image_sources import image_to_path
from sinoloc.tools.images import ImageInputError, load_image
from sinoloc.tools.regions import RegionIndex, get_region_index

EXIF_WEIGHT = 0.999  # EXIF GPS is decisive unless switched off
NO_REQUEST = "no image: start the thread with a request (image_path) before asking about it"
EXIF_IGNORED = "the image has EXIF GPS, ignored as requested (--ignore-exif)"


def exif_evidence(gps: GpsFix, index: RegionIndex, number: int = 1) -> Evidence:
    """The camera's GPS fix as evidence (decisive: weight 0.999, 50 m), numbered like the
    tools' evidence."""
    region = index.reverse(gps.lon, gps.lat)
    where = index.label(region) if region else "outside the region data"
    return Evidence(
        id=evidence_id(number), kind=EvidenceKind.EXIF_GPS, text=f"{gps.lat:.6f}, {gps.lon:.6f}",
        source="image EXIF GPS", point=PointSupport(lat=gps.lat, lon=gps.lon, radius_km=0.05),
        weight=EXIF_WEIGHT, confidence=1.0, detail=f"camera GPS fix in {where}",
        trace="EXIF GPSInfo")


def ingest(state: GeoState, config: Optional[RunnableConfig] = None,  # noqa: UP045
           runtime: Optional[Runtime] = None, *,  # noqa: UP045 (LangGraph reads the annotations)
           boundary: ServeBoundary | None = None) -> dict:
    """The node. A served graph's ``boundary`` decides which images and settings its clients
    may give."""
    start = time.perf_counter()
    if state.get("request") is None:
        raise ImageInputError(NO_REQUEST)
    defaults = configured_defaults((config or {}).get("configurable"),
                                   getattr(runtime, "context", None))
    if boundary is not None:
        request, loaded = boundary.admit(state["request"], defaults)
    else:
        request = resolve_request(state["request"], defaults)
        path = image_to_path(request.image_path)  # a data: URI / base64 is stored by its hash
        request = request.model_copy(update={"image_path": str(path)})
        loaded = load_image(request.image_path)  # ImageInputError propagates: bad input
    # components asked for by name must load: an error now, not a run without them
    check_components(request.ocr_backend, request.prior, request.offline)
    dumped = request.model_dump(mode="json")
    update: dict = {**fresh_image_channels(), "request": dumped, "ingested_request": dumped,
                    "image": loaded.meta.model_dump(mode="json"), "verify_rounds": 0,
                    "answer": None, "verdict": None, "started_at": time.time(),
                    "transcript": [entry("image", request.image_path)]}
    gps = loaded.meta.exif_gps
    if gps is not None and not request.ignore_exif:
        update["evidence"] = Overwrite([exif_evidence(gps, get_region_index()).model_dump(mode="json")])
    elif gps is not None:
        update["warnings"] = Overwrite([EXIF_IGNORED])
    update["timings"] = Overwrite(timed("ingest", start)["timings"])
    return update
