"""What ``sinoloc mcp`` adds to a locate, over the official SDK's client on this machine.

    python -m sinoloc.benchmarks.mcp [--panorama PANO.jpg] [--runs 7]

Measures (medians, warm): ``locate_image`` over stdio (the server a subprocess the client
starts) and over Streamable HTTP on 127.0.0.1, each sending the image as a data: URI, against
``Geolocator.locate`` in-process on the same image (the reference: the ratio is the transport's
and the trust boundary's overhead); the time from starting the stdio server to its tool list.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sinoloc.benchmarks.locate import synthetic_panorama

SERVER = [sys.executable, "-m", "sinoloc.app.cli.main", "mcp", "--offline"]


def _median(values: list[float]) -> float:
    return round(statistics.median(values), 4)


async def _calls(client, uri: str, runs: int) -> list[float]:
    await client.call_tool("locate_image", {"image": uri})  # warm: OCR models, caches
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        result = await client.call_tool("locate_image", {"image": uri})
        times.append(time.perf_counter() - start)
        if result.is_error:
            raise RuntimeError(result.content)
    return times


async def _stdio(uri: str, runs: int) -> tuple[float, list[float]]:
    from mcp import Client
    from mcp.client.stdio import StdioServerParameters

    start = time.perf_counter()
    params = StdioServerParameters(command=SERVER[0], args=SERVER[1:], env=dict(os.environ))
    async with Client(params, read_timeout_seconds=300) as client:
        await client.list_tools()
        ready = time.perf_counter() - start
        return ready, await _calls(client, uri, runs)


async def _http(url: str, uri: str, runs: int) -> list[float]:
    from mcp import Client

    async with Client(url, read_timeout_seconds=300) as client:
        return await _calls(client, uri, runs)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--panorama", type=Path, default=None)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        image = args.panorama or Path(tmp) / "pano.jpg"
        if args.panorama is None:
            synthetic_panorama(image)
        uri = "data:image/jpeg;base64," + base64.b64encode(image.read_bytes()).decode()
        from sinoloc.agent.api import Geolocator

        geolocator = Geolocator(offline=True)
        geolocator.locate(image)
        local = []
        for _ in range(args.runs):
            start = time.perf_counter()
            geolocator.locate(image)
            local.append(time.perf_counter() - start)
        ready, stdio = asyncio.run(_stdio(uri, args.runs))
        env = {**os.environ, "SINOLOC_UPLOAD_DIR": str(Path(tmp) / "uploads")}
        proc = subprocess.Popen([*SERVER, "--transport", "http", "--port", "0"],
                                stdout=subprocess.PIPE, text=True, env=env)
        try:
            line = proc.stdout.readline() if proc.stdout else ""
            match = re.search(r"http://127\.0\.0\.1:\d+/mcp", line)
            if not match:
                raise RuntimeError(f"the HTTP server did not start: {line!r}")
            http = asyncio.run(_http(match.group(0), uri, args.runs))
        finally:
            proc.terminate()
            proc.wait(30)
    reference = statistics.median(local)
    print(json.dumps({
        "image": str(args.panorama or "synthetic 2048x1024 panorama"), "runs": args.runs,
        "in_process_s": _median(local), "stdio_s": _median(stdio), "http_s": _median(http),
        "stdio_ratio": round(statistics.median(stdio) / reference, 3),
        "http_ratio": round(statistics.median(http) / reference, 3),
        "stdio_server_ready_s": round(ready, 3)}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
