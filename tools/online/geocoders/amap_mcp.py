"""Amap (高德) through its MCP server, as a geocoder in the chain (``amap_mcp``): the tools of
the official ``@amap/amap-maps-mcp-server`` (npm, 高德地图开放平台; read at version 0.0.8):
``maps_geo`` (an address or landmark → its points) and ``maps_regeocode`` (a point → province,
city, district). Coordinates are GCJ-02, converted here like the REST adapter's.

The server is where the user points (``SINOLOC_AMAP_MCP`` or ``[online] amap_mcp``): a
Streamable HTTP URL, or a command that starts it over stdio (default ``npx -y
@amap/amap-maps-mcp-server@0.0.8``, the version read, given the Amap key as
``AMAP_MAPS_API_KEY``; each query starts it, and answers are cached like every provider's). Like every
provider it is used only when listed (``SINOLOC_GEOCODERS=amap_mcp``), each call goes through the
one online path (offline check, cache, rate limit, the outbound trace; a key in the URL is
redacted) and a failure is typed: the server's ``isError`` text carries Amap's ``info`` code
(``INVALID_USER_KEY`` → auth, ``DAILY_QUERY_OVER_LIMIT`` → quota). Needs the ``mcp`` extra.
"""

from __future__ import annotations

import asyncio
import json
import re
import shlex
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from sinoloc.tools.crs import CRS, from_wgs84
from sinoloc.tools.online.client import OnlineClient, redact_url
from sinoloc.tools.online.failures import FailureKind, ProviderFailure
from sinoloc.tools.online.geocoders.amap import amap_text
from sinoloc.tools.online.places import Place, make_place

DEFAULT_SERVER = "npx -y @amap/amap-maps-mcp-server@0.0.8"  # the version read, pinned
# Amap's web-service info names (lbs.amap.com/api/webservice/guide/tools/info), classed as the
# REST adapter classes their infocodes (amap.AUTH_CODES: 10001–10013, QUOTA_CODES)
_AUTH = {"INVALID_USER_KEY", "SERVICE_NOT_AVAILABLE", "INVALID_USER_IP", "INVALID_USER_DOMAIN",
         "INVALID_USER_SIGNATURE", "INVALID_USER_SCODE", "USERKEY_PLAT_NOMATCH",
         "IP_QUERY_OVER_LIMIT", "NOT_SUPPORT_HTTPS", "INSUFFICIENT_PRIVILEGES", "USER_KEY_RECYCLED"}
_QUOTA = {"DAILY_QUERY_OVER_LIMIT", "ACCESS_TOO_FREQUENT", "CQPS_HAS_EXCEEDED_THE_LIMIT",
          "GATEWAY_TIMEOUT", "CKQPS_HAS_EXCEEDED_THE_LIMIT", "CUQPS_HAS_EXCEEDED_THE_LIMIT",
          "CIQPS_HAS_EXCEEDED_THE_LIMIT", "USER_DAILY_QUERY_OVER_LIMIT",
          "USER_ABROAD_DAILY_QUERY_OVER_LIMIT"}
_INFO = re.compile(r"\b[A-Z][A-Z_]{5,}\b")


class AmapMcp:
    name = "amap_mcp"
    interval_s = 1 / 3  # the key's web-service limit, as for the REST adapter

    def __init__(self, key: str | None, server: str | None = None, timeout_s: float = 30.0):
        if not key:
            raise ProviderFailure(self.name, FailureKind.NOT_CONFIGURED, "no key (AMAP_KEY)")
        try:
            import mcp  # noqa: F401
        except ImportError as exc:
            raise ProviderFailure(self.name, FailureKind.NOT_CONFIGURED, "needs the mcp extra: "
                                  "pip install '.[mcp]' in the sinoloc clone") from exc
        self.key, self.server, self.timeout_s = key, (server or DEFAULT_SERVER).strip(), timeout_s

    # ------------------------------------------------------------------ the MCP call
    @property
    def endpoint(self) -> str:
        """How the server is named in the outbound trace (a key in its URL redacted)."""
        return redact_url(self.server) if self._is_url else f"stdio:{self.server}"

    @property
    def _is_url(self) -> bool:
        return self.server.startswith(("http://", "https://"))

    def _target(self):
        if self._is_url:
            return self.server
        from mcp.client.stdio import StdioServerParameters

        argv = shlex.split(self.server)
        return StdioServerParameters(command=argv[0], args=argv[1:],
                                     env={"AMAP_MAPS_API_KEY": self.key})

    async def _call(self, tool: str, arguments: dict) -> Any:
        from mcp import Client

        async with asyncio.timeout(self.timeout_s):  # the whole call: start, handshake, answer
            async with Client(self._target(), read_timeout_seconds=self.timeout_s) as client:
                return await client.call_tool(tool, arguments)

    def _tool(self, tool: str, arguments: dict) -> dict:
        """The tool's answer as ``{"text": …, "is_error": …}``; transport failures typed. The
        call runs on its own event loop in a worker thread (callers may be inside one), and
        is cancelled (a stdio server with it) when it takes longer than the timeout."""
        pool = ThreadPoolExecutor(1)
        try:
            result = pool.submit(asyncio.run, self._call(tool, arguments)).result()
        except TimeoutError as exc:
            raise ProviderFailure(self.name, FailureKind.TIMEOUT,
                                  f"no answer in {self.timeout_s:g} s") from exc
        except Exception as exc:  # a server that does not start, a refused connection, …
            raise ProviderFailure(self.name, FailureKind.NETWORK,
                                  f"{exc.__class__.__name__}: {self._shown(exc)}") from exc
        finally:
            pool.shutdown(wait=False, cancel_futures=True)
        texts = [getattr(block, "text", "") for block in result.content or []]
        return {"text": "\n".join(t for t in texts if t), "is_error": bool(result.is_error)}

    def _shown(self, exc: Exception) -> str:
        """An error's text as the trace may show it: a URL's key redacted, the key nowhere."""
        return redact_url(str(exc)).replace(self.key, "***")[:120]

    def _validator(self, tool: str):
        """What makes an answer of ``tool`` one to keep (only those are cached): not an error,
        and JSON text of the tool's shape."""
        def validate(answer) -> None:
            if not isinstance(answer, dict):
                raise ProviderFailure(self.name, FailureKind.MALFORMED, f"{tool}: no answer")
            if answer.get("is_error"):
                raise self._failure(str(answer.get("text", "")))
            try:
                data = json.loads(answer.get("text") or "")
            except ValueError as exc:
                raise ProviderFailure(self.name, FailureKind.MALFORMED,
                                      f"{tool}: not JSON text") from exc
            if not isinstance(data, dict) or (tool == "maps_geo"
                                              and not isinstance(data.get("return"), list)):
                raise ProviderFailure(self.name, FailureKind.MALFORMED,
                                      f"{tool}: not the server's answer shape")
        return validate

    def _failure(self, text: str) -> ProviderFailure:
        names = set(_INFO.findall(text))
        kind = (FailureKind.AUTH if names & _AUTH else FailureKind.QUOTA if names & _QUOTA
                else FailureKind.PROVIDER_ERROR)
        return ProviderFailure(self.name, kind, text[:120])

    def _ask(self, client: OnlineClient, tool: str, arguments: dict) -> dict:
        answer = client.call(self.name, f"{self.endpoint}#{tool}", arguments,
                             lambda: self._tool(tool, arguments), self._validator(tool),
                             self.interval_s)
        return json.loads(answer["text"])  # the validator has parsed it once

    # ------------------------------------------------------------------ the Geocoder protocol
    def geocode(self, client: OnlineClient, query: str, within: str | None) -> list[Place]:
        arguments = {"address": query, **({"city": within} if within else {})}
        items = self._ask(client, "maps_geo", arguments)["return"]
        return [self._place(item, within) for item in items if isinstance(item, dict)]

    def _place(self, item: dict, within: str | None) -> Place:
        try:
            lon, lat = (float(x) for x in amap_text(item.get("location")).split(","))
        except ValueError as exc:
            raise ProviderFailure(self.name, FailureKind.MALFORMED,
                                  f"bad location {item.get('location')!r}") from exc
        address = "".join(amap_text(item.get(k)) for k in ("province", "city", "district", "street",
                                                          "number"))
        return make_place(self.name, address, lon, lat, CRS.GCJ02, address=address,
                          provider_adcode=amap_text(item.get("adcode")) or None, within=within)

    def reverse(self, client: OnlineClient, lat: float, lon: float) -> str | None:
        glon, glat = from_wgs84(lon, lat, CRS.GCJ02)  # the service reads GCJ-02
        data = self._ask(client, "maps_regeocode", {"location": f"{glon:.6f},{glat:.6f}"})
        # the official server spells the key "provice"
        parts = [amap_text(data.get(k)) for k in ("provice", "province", "city", "district")]
        return "".join(dict.fromkeys(p for p in parts if p)) or None
