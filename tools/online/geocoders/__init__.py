"""Geocoder adapters: each speaks one provider's API, converts its coordinates to WGS-84 and
classifies its documented error statuses."""

from __future__ import annotations

from typing import Protocol

from sinoloc.tools.online.client import OnlineClient
from sinoloc.tools.online.places import Place


class Geocoder(Protocol):
    name: str
    interval_s: float  # at most one request per interval (the provider's published limit)

    def geocode(self, client: OnlineClient, query: str, within: str | None) -> list[Place]: ...

    def reverse(self, client: OnlineClient, lat: float, lon: float) -> str | None: ...


def build_geocoder(name: str, key: str | None, user_agent: str, *,
                   amap_mcp: str | None = None) -> Geocoder:
    """``amap_mcp``: where the Amap MCP server is (a URL or a command; None: the default)."""
    if name == "amap_mcp":
        from sinoloc.tools.online.geocoders.amap_mcp import AmapMcp

        return AmapMcp(key, amap_mcp)
    if name == "amap":
        from sinoloc.tools.online.geocoders.amap import Amap

        return Amap(key)
    if name == "baidu":
        from sinoloc.tools.online.geocoders.baidu import Baidu

        return Baidu(key)
    if name == "tencent":
        from sinoloc.tools.online.geocoders.tencent import Tencent

        return Tencent(key)
    if name == "nominatim":
        from sinoloc.tools.online.geocoders.nominatim import Nominatim

        return Nominatim(user_agent)
    raise ValueError(f"unknown geocoder {name!r}")
