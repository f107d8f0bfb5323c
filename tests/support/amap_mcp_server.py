"""A stand-in for Amap's MCP server (``@amap/amap-maps-mcp-server`` 0.0.8) for tests: the same
tool names, arguments and answer shapes (``maps_geo`` → ``{"return": [...]}`` as JSON text,
``maps_regeocode`` → ``{"provice", "city", "district"}``, failures as ``isError`` text with
Amap's info name), answering from a small table. Run it over stdio (``python
amap_mcp_server.py``; the key in ``AMAP_MAPS_API_KEY``) or serve :func:`build` over HTTP.

The key decides the answer: ``bad-key…`` → INVALID_USER_KEY, ``quota…`` → DAILY_QUERY_OVER_LIMIT,
``garbled…`` → a success that is not JSON, ``slow…`` → no answer for a minute.
The point is a published WGS-84 / GCJ-02 pair (tests/unit/test_crs.py): the answer is GCJ-02.
"""

from __future__ import annotations

import json
import os
import sys
import time

from mcp.server.mcpserver import MCPServer
from mcp.types import CallToolResult, TextContent

PUDONG_GCJ = "121.531542,31.175304"  # WGS-84 121.5272106, 31.1774276 (上海市浦东新区)
PLACES = {"上海市浦东新区": {"country": "中国", "province": "上海市", "city": "上海市",
                             "citycode": "021", "district": "浦东新区", "street": [], "number": [],
                             "adcode": "310115", "location": PUDONG_GCJ, "level": "区县"}}


def _failure(key: str, what: str) -> CallToolResult | None:
    if key.startswith("slow"):  # an answer that never comes in time
        time.sleep(60)
    if key.startswith("garbled"):  # a success that is not the server's answer
        return CallToolResult(content=[TextContent(type="text", text="<html>busy</html>")],
                              is_error=False)
    info = ("INVALID_USER_KEY" if key.startswith("bad-key") else "DAILY_QUERY_OVER_LIMIT"
            if key.startswith("quota") else None)
    if info is None:
        return None
    return CallToolResult(content=[TextContent(type="text", text=f"{what} failed: {info}")],
                          is_error=True)


def _text(data: dict) -> CallToolResult:
    return CallToolResult(content=[TextContent(type="text", text=json.dumps(
        data, ensure_ascii=False, indent=2))], is_error=False)


def build(key: str | None = None) -> MCPServer:
    server = MCPServer("amap-maps")

    def current_key() -> str:
        return key if key is not None else os.environ.get("AMAP_MAPS_API_KEY", "")

    @server.tool()
    def maps_geo(address: str, city: str | None = None) -> CallToolResult:
        """将详细的结构化地址转换为经纬度坐标"""
        failed = _failure(current_key(), "Geocoding")
        if failed:
            return failed
        found = [p for name, p in PLACES.items() if address.startswith(name)]
        return _text({"return": found})

    @server.tool()
    def maps_regeocode(location: str) -> CallToolResult:
        """将一个高德经纬度坐标转换为行政区划地址信息"""
        failed = _failure(current_key(), "RGeocoding")
        if failed:
            return failed
        if location != PUDONG_GCJ:
            return _text({"provice": [], "city": [], "district": []})
        return _text({"provice": "上海市", "city": [], "district": "浦东新区"})

    return server


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--fail":
        sys.exit("this server does not start")
    build().run("stdio")
