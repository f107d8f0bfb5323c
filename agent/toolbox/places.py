"""The place tools: geocoding a shop, road or address (``geocode_poi``), reverse geocoding a
point (``reverse_geocode``) and web search (``web_search``): the offline gazetteer and region
data first, online providers where the run is configured for them."""

from __future__ import annotations

from pydantic import BaseModel, Field

from sinoloc.agent.toolbox.context import ToolContext, ToolOutput
from sinoloc.tools.regions import get_region_index


class GeocodeArgs(BaseModel):
    query: str = Field(description="a shop, road, landmark or address")
    within: str | None = Field(default=None, description="restrict to this region name")


class ReverseArgs(BaseModel):
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)


class WebSearchArgs(BaseModel):
    query: str


def no_web_search(request) -> str | None:
    """Why ``web_search`` cannot run for ``request``: the run is offline, or web search is off
    (or the online configuration is broken)."""
    from sinoloc.tools.online.config import ConfigError, get_config

    try:
        config = get_config()
        off = request.offline or config.offline or not config.web_search
    except ConfigError:
        off = True
    return "web search is off or the run is offline" if off else None


def _gazetteer_answer(args: GeocodeArgs) -> ToolOutput:
    """Offline: admin names in the query resolve to regions; street-level names need an
    online provider."""
    from sinoloc.tools.clues.gazetteer import get_gazetteer

    index = get_region_index()
    gazetteer = get_gazetteer()
    text = f"{args.within or ''}{args.query}"
    resolution = gazetteer.resolve(text)
    if resolution is None or resolution.leftover:
        scope = f" within {args.within}" if args.within else ""
        return ToolOutput(status="no_result", summary=(
            f"offline gazetteer: no street-level match for {args.query!r}{scope}"))
    regions = [resolution.region, *resolution.alternatives]
    info = [index.info(r).model_dump(mode="json") for r in regions]
    return ToolOutput(status="ok", summary="offline gazetteer: " + "; ".join(
        f"{index.label(r)} (centre {r.lat:.4f}, {r.lon:.4f})" for r in regions),
        data={"regions": info})


def geocode_poi(args: GeocodeArgs, ctx: ToolContext) -> ToolOutput:
    """The configured map providers (GCJ-02 / BD-09 converted to WGS-84 at each adapter),
    then the offline gazetteer."""
    from sinoloc.agent.toolbox.online import geocode_poi_online

    return geocode_poi_online(args.query, args.within, ctx, lambda: _gazetteer_answer(args))


def reverse_geocode(args: ReverseArgs, ctx: ToolContext) -> ToolOutput:
    from sinoloc.agent.toolbox.online import reverse_online

    index = get_region_index()
    district = index.reverse(args.lon, args.lat)
    if district is None:
        near, km = index.nearest_district(args.lon, args.lat)
        return ToolOutput(status="no_result", summary=(
            f"({args.lat}, {args.lon}) is in no district; nearest is {index.label(near)} "
            f"{km:.1f} km away"))
    path = index.admin_path(district)
    offline = ToolOutput(status="ok", summary=f"({args.lat}, {args.lon}) is in "
                         f"{index.label(district)}", data=path.model_dump())
    return reverse_online(args.lat, args.lon, ctx, offline)


def web_search(args: WebSearchArgs, ctx: ToolContext) -> ToolOutput:
    from sinoloc.agent.toolbox.online import web_search as search_the_web

    return search_the_web(args.query, ctx)
