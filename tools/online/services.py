"""What one run may use online: the configured geocoder chain (keyed providers, Nominatim) with
the offline gazetteer as the last resort in the tool, web search, and the outbound trace."""

from __future__ import annotations

from dataclasses import dataclass, field

from sinoloc.tools.online.client import OnlineClient, OutboundQuery
from sinoloc.tools.online.config import OnlineConfig, get_config
from sinoloc.tools.online.failures import ProviderFailure
from sinoloc.tools.online.geocoders import Geocoder, build_geocoder
from sinoloc.tools.online.places import Place
from sinoloc.tools.online.store import OnlineStore, default_store_path

_STORES: dict[str, OnlineStore] = {}
_CLUSTER: list = []  # the store every process of a Ray run shares (see use_store)


def use_store(store) -> None:
    """From now on :func:`shared_store` in this process is ``store`` (an eval actor on a Ray
    cluster sets :class:`~.ray_store.RayStore`, so that limits and cache hold cluster-wide)."""
    _CLUSTER[:] = [store]


def shared_store() -> OnlineStore:
    if _CLUSTER:
        return _CLUSTER[0]
    path = default_store_path()
    if str(path) not in _STORES:
        _STORES[str(path)] = OnlineStore(path)
    return _STORES[str(path)]


@dataclass
class GeocodeAttempt:
    places: list[Place] = field(default_factory=list)
    provider: str | None = None  # the provider that answered
    failures: list[ProviderFailure] = field(default_factory=list)


class OnlineServices:
    def __init__(self, config: OnlineConfig | None = None, store: OnlineStore | None = None,
                 http=None):
        self.config = config or get_config()
        self.client = OnlineClient(self.config, store or shared_store(), http)
        self.geocoders: list[Geocoder] = []
        self.unconfigured: list[ProviderFailure] = []
        for name in self.config.geocoders:
            try:
                self.geocoders.append(build_geocoder(name, self.config.key(name),
                                                     self.config.user_agent,
                                                     amap_mcp=self.config.amap_mcp))
            except ProviderFailure as failure:  # listed without a key: said, not fatal
                self.unconfigured.append(failure)

    def geocode(self, query: str, within: str | None) -> GeocodeAttempt:
        """The first provider in the chain that answers; failures are collected, not raised."""
        attempt = GeocodeAttempt(failures=list(self.unconfigured))
        for geocoder in self.geocoders:
            try:
                places = geocoder.geocode(self.client, query, within)
            except ProviderFailure as failure:
                attempt.failures.append(failure)
                continue
            if places:
                attempt.places, attempt.provider = places, geocoder.name
                return attempt
        return attempt

    def reverse(self, lat: float, lon: float) -> tuple[str | None, str | None, list]:
        failures: list[ProviderFailure] = []
        for geocoder in self.geocoders:
            try:
                address = geocoder.reverse(self.client, lat, lon)
            except ProviderFailure as failure:
                failures.append(failure)
                continue
            if address:
                return address, geocoder.name, failures
        return None, None, failures

    def take_trace(self) -> list[OutboundQuery]:
        return self.client.take_trace()
