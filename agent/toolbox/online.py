"""The tools that may go online: ``geocode_poi``, ``reverse_geocode`` and ``web_search``.

Each uses the configured providers unless the run is offline, records every outbound query in
its output, and never fails the run: a provider failure becomes part of the answer ("amap:
quota: …") and the offline data answers where it can.
"""

from __future__ import annotations

from typing import Literal

from sinoloc.agent.toolbox.context import ToolContext, ToolOutput
from sinoloc.tools.clues import extract_text_clues
from sinoloc.tools.evidence import (
    Evidence,
    EvidenceKind,
    IgnoredText,
    PointSupport,
    RegionSupport,
    clue_to_evidence,
)
from sinoloc.tools.injection import looks_like_instruction
from sinoloc.tools.online.config import ConfigError, get_config
from sinoloc.tools.online.failures import FailureKind, ProviderFailure
from sinoloc.tools.online.places import Place
from sinoloc.tools.regions import get_region_index

POI_RADIUS_KM = 1.0  # a named place: its pin, give or take a large campus
POI_WEIGHT = 0.75  # one place matching the query
POI_WEIGHT_SCATTERED = 0.35  # the first of several places in different cities (a chain)
WEB_CONFIDENCE = 0.5  # text on a web page about the query, not in the image
INJECTION_REASON = "web text addressed to a model, not a location clue (treated as data)"


def _services(ctx: ToolContext):
    """The online services of this run, or why there are none (offline, bad config)."""
    if ctx.request.offline:
        return None, "offline run (--offline): no network call was made"
    try:
        config = get_config()
    except ConfigError as exc:
        return None, f"online configuration error: {exc}"
    if config.offline:
        return None, "offline (SINOLOC_OFFLINE): no network call was made"
    from sinoloc.tools.online.services import OnlineServices

    return OnlineServices(config), None


def _failures(failures: list[ProviderFailure]) -> str:
    return "; ".join(f"{f.provider}: {f.kind.value}: {f.reason}" for f in failures)


def _place_line(place: Place) -> str:
    flag = "  [outside the hypothesis]" if place.outside_hypothesis else ""
    return (f"{place.name} — {place.address} → {place.admin or 'outside the region data'} "
            f"({place.lat:.6f}, {place.lon:.6f} WGS-84; {place.raw_crs} from "
            f"{place.provider}){flag}")


def _poi_evidence(query: str, within: str | None, places: list[Place]) -> Evidence:
    best = places[0]
    index = get_region_index()
    districts = [index.get(p.district_adcode) if p.district_adcode else None for p in places]
    cities = {(d.city_adcode or d.province_adcode) if d else None for d in districts}
    weight = POI_WEIGHT if len(cities) == 1 else POI_WEIGHT_SCATTERED
    detail = f"{best.provider}: {best.name} {best.address} → {best.admin or '?'}"
    if best.outside_hypothesis:
        detail += f" (outside the hypothesis {within})"
    if len(cities) > 1:
        detail += f"; {len(places)} places in several regions"
    regions = []
    if districts[0] is not None:
        regions = [RegionSupport(level="district", adcode=districts[0].adcode,
                                 name=index.label(districts[0]), weight=1.0)]
    return Evidence(kind=EvidenceKind.POI, text=query, source=f"geocode:{best.provider}",
                    point=PointSupport(lat=best.lat, lon=best.lon, radius_km=POI_RADIUS_KM),
                    regions=regions, weight=weight, confidence=0.8, detail=detail,
                    trace=f"geocode_poi({query!r}, within={within!r}) via {best.provider}")


def geocode_poi_online(query: str, within: str | None, ctx: ToolContext,
                       offline_answer) -> ToolOutput:
    """Providers first; the offline gazetteer (``offline_answer``) when none answers."""
    services, reason = _services(ctx)
    if services is None or not services.geocoders:
        out = offline_answer()
        note = reason or "online map providers are not configured"
        if services is not None and services.unconfigured:
            note += f" ({_failures(services.unconfigured)})"
        return out.model_copy(update={"summary": f"{out.summary}; {note}"})
    attempt = services.geocode(query, within)
    outbound = services.take_trace()
    if attempt.places:
        lines = [f"{i}. {_place_line(p)}" for i, p in enumerate(attempt.places, start=1)]
        if attempt.failures:
            lines.append(f"(before {attempt.provider}: {_failures(attempt.failures)})")
        return ToolOutput(status="ok", summary="\n".join(lines), outbound=outbound,
                          evidence=[_poi_evidence(query, within, attempt.places)],
                          data={"places": [p.model_dump() for p in attempt.places]})
    out = offline_answer()
    why = _failures(attempt.failures) or "no provider found it"
    return out.model_copy(update={"summary": f"{out.summary}; online: {why}",
                                  "outbound": outbound})


def reverse_online(lat: float, lon: float, ctx: ToolContext, offline: ToolOutput) -> ToolOutput:
    """The region index decides the admin levels; a provider adds the street address."""
    services, _ = _services(ctx)
    if services is None or not services.geocoders:
        return offline
    address, provider, failures = services.reverse(lat, lon)
    outbound = services.take_trace()
    extra = (f"; {provider}: {address}" if address else
             f"; online: {_failures(failures) or 'no address'}")
    data = {**offline.data, "address": address, "address_provider": provider}
    return offline.model_copy(update={"summary": offline.summary + extra, "outbound": outbound,
                                      "data": data})


def web_search(query: str, ctx: ToolContext) -> ToolOutput:
    services, reason = _services(ctx)
    if services is None:
        return ToolOutput(status="unavailable", summary=f"web search: {reason}")
    from sinoloc.tools.online.websearch import search

    try:
        results = search(services.client, query)
    except ProviderFailure as failure:
        status: Literal["no_result", "unavailable"] = (
            "no_result" if failure.kind is FailureKind.REFUSED else "unavailable")
        return ToolOutput(status=status, summary=f"web search {failure.kind.value}: "
                          f"{failure.reason}", outbound=services.take_trace())
    out = ToolOutput(status="ok" if results else "no_result", summary="",
                     outbound=services.take_trace())
    lines = []
    for rank, result in enumerate(results, start=1):
        text = f"{result.title} {result.snippet}"
        lines.append(f"{rank}. {result.title} — {result.snippet[:160]} <{result.url}>")
        if looks_like_instruction(text):
            out.ignored_text.append(IgnoredText(text=text[:200], reason=INJECTION_REASON))
            continue
        for clue in extract_text_clues(text):
            converted = clue_to_evidence(clue, trace=f"web_search({query!r}) → {result.url}")
            if isinstance(converted, Evidence):
                out.evidence.append(converted.model_copy(update={
                    "kind": EvidenceKind.WEB, "source": f"web:{result.url}",
                    "confidence": round(converted.confidence * WEB_CONFIDENCE, 3),
                    "detail": f"{converted.detail} (in a web result for {query!r})"}))
    out.summary = "\n".join(lines) if lines else f"no web result for {query!r}"
    return out
