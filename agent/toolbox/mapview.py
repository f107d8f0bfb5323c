"""``map_view``: a static road map and a satellite view around a point, for an image-capable
model to compare with the photo (road layout, river bends, block shapes, campus outlines).

The images come from the configured static-map providers (:mod:`sinoloc.tools.online.staticmap`:
Tencent road + satellite, Amap road, Tianditu road + satellite from its tiles), through the one
online path (cache, rate limit, outbound trace); they are stored in the image cache by content
hash and referenced from the tool's message, and the model is shown them in its very next
request (:mod:`sinoloc.agent.llm.messages`).
The tool is offered only where it can run: online, with a provider key, to a model that is sent
images (:func:`available`); the deterministic policy never calls it. It adds no evidence: what
the model concludes from a view it cites as its own observation."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from sinoloc.agent.toolbox.context import ToolContext, ToolOutput

MIN_ZOOM, MAX_ZOOM, DEFAULT_ZOOM = 10, 18, 16


class MapViewArgs(BaseModel):
    lat: float = Field(ge=-90, le=90, description="WGS-84 latitude of the point to look at")
    lon: float = Field(ge=-180, le=180, description="WGS-84 longitude")
    zoom: int = Field(default=DEFAULT_ZOOM, ge=MIN_ZOOM, le=MAX_ZOOM, description=(
        "10 ≈ a city, 13 ≈ a district, 16 ≈ a few streets, 18 ≈ one block"))
    views: list[Literal["road", "satellite"]] = Field(
        default_factory=lambda: ["road", "satellite"],  # type: ignore[arg-type]
        description=(
        "which views: road, satellite or both"), min_length=1, max_length=2)


def configured_maps():
    """The configured static-map providers with keys, or why there are none (None: no
    providers)."""
    from sinoloc.tools.online.config import ConfigError, get_config
    from sinoloc.tools.online.staticmap import build_static_maps

    try:
        config = get_config()
    except ConfigError as exc:
        return None, [], f"online configuration error: {exc}"
    if config.offline:
        return config, [], "offline (SINOLOC_OFFLINE): no network call was made"
    providers, _ = build_static_maps(config.static_maps, config.key)
    return config, providers, None if providers else "no static-map provider has a key"


def available(request) -> str | None:
    """Why ``map_view`` cannot run in this request (None: it can)."""
    if request.offline:
        return "offline run (--offline)"
    _, providers, why = configured_maps()
    return why if not providers else None


def no_map_view(request) -> str | None:
    """Why ``map_view`` is not offered for ``request`` (its ``ToolSpec.unavailable``)."""
    why = available(request)
    return f"no map images: {why}" if why else None


def map_view(args: MapViewArgs, ctx: ToolContext) -> ToolOutput:
    from sinoloc.tools.image_sources import store_image_bytes
    from sinoloc.tools.online.client import OnlineClient
    from sinoloc.tools.online.failures import ProviderFailure
    from sinoloc.tools.online.services import shared_store
    from sinoloc.tools.online.staticmap import fetch_view

    why = "offline run (--offline): no network call was made" if ctx.request.offline else None
    config, providers, reason = configured_maps() if why is None else (None, [], why)
    if not providers or config is None:
        return ToolOutput(status="unavailable", summary=f"map_view: {reason}")
    client = OnlineClient(config, shared_store())
    lines, images, failures = [], [], []
    for view in dict.fromkeys(args.views):
        for provider in (p for p in providers if view in p.views):
            try:
                image = fetch_view(client, provider, args.lat, args.lon, args.zoom, view)
            except ProviderFailure as failure:
                failures.append(f"{failure.provider}: {failure.kind.value}: {failure.reason}")
                continue
            path = store_image_bytes(image.data, label=f"{provider.name} {view} map")
            images.append({"path": str(path), "sha256": path.stem, "mime_type": image.mime_type,
                           "caption": f"{view} map from {provider.name} at zoom {image.zoom}, "
                                      f"centred on ({args.lat:.6f}, {args.lon:.6f}); the red "
                                      "marker is that point"})
            lines.append(f"- {view}: {provider.name}, zoom {image.zoom} (attached below)")
            break
        else:
            lines.append(f"- {view}: no provider could draw it")
    if failures:
        lines.append("failures: " + "; ".join(failures))
    return ToolOutput(status="ok" if images else "unavailable", summary=(
        f"map views around ({args.lat:.6f}, {args.lon:.6f}) WGS-84:\n" + "\n".join(lines)),
        outbound=client.take_trace(), images=images)
