"""Geocoder adapters: each speaks one provider's API, converts its coordinates to WGS-84 and
classifies its documented error statuses."""

from __future__ import annotations

from typing import Protocol

from ..client import OnlineClient
from ..places import Place


class Geocoder(Protocol):
    name: str
    interval_s: float  # at most one request per interval (the provider's published limit)

    def geocode(self, client: OnlineClient, query: str, within: str | None) -> list[Place]: ...

    def reverse(self, client: OnlineClient, lat: float, lon: float) -> str | None: ...


def build_geocoder(name: str, key: str | None, user_agent: str) -> Geocoder:
    if name == "amap":
        from .amap import Amap

        return Amap(key)
    if name == "baidu":
        from .baidu import Baidu

        return Baidu(key)
    if name == "tencent":
        from .tencent import Tencent

        return Tencent(key)
    if name == "nominatim":
        from .nominatim import Nominatim

        return Nominatim(user_agent)
    raise ValueError(f"unknown geocoder {name!r}")
