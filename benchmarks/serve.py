"""Speed and memory of ``sinoloc serve`` on the offline default, over a real socket on 127.0.0.1.

    python -m sinoloc.benchmarks.serve [--panorama PANO.jpg] [--runs 7]

Measures (medians): warm ``POST /api/locate`` on a 2048x1024 panorama, the same image through
``Geolocator.locate`` in-process (the reference: the ratio is the server's own overhead), and
the time from sending an upload to the first streamed event and to the first graph event; the
server process's RSS after the runs (``sinoloc serve --offline`` in its own process).
Targets (issue 22): warm locate ≤ 0.5 s, first event ≤ 0.2 s.
"""

from __future__ import annotations

import argparse
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


def _median(values: list[float]) -> float:
    return round(statistics.median(values), 4)


def _rss_mb(pid: int) -> float:
    """The server process's resident memory (Linux /proc; 0 elsewhere)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return 0.0


def start_server(root: Path, extra_env: dict[str, str] | None = None) -> tuple[subprocess.Popen, str]:
    """``sinoloc serve --offline`` on a free loopback port (``extra_env`` added to its
    environment); its URL once it listens."""
    env = {**os.environ, "SINOLOC_UPLOAD_DIR": str(root / "uploads"),
           "SINOLOC_CHAT_DB": str(root / "chat.sqlite"), **(extra_env or {})}
    proc = subprocess.Popen([sys.executable, "-m", "sinoloc.app.cli.main", "serve", "--port", "0",
                             "--offline"], stdout=subprocess.PIPE, text=True, env=env)
    assert proc.stdout is not None  # stdout=PIPE
    line = proc.stdout.readline()
    match = re.search(r"http://127\.0\.0\.1:\d+", line)
    if not match:
        proc.kill()
        raise RuntimeError(f"the server did not start: {line!r}")
    return proc, match.group(0)


def _stream_times(client, files) -> tuple[float, float]:
    """Seconds from sending the upload to the first event and to the first graph event."""
    start = time.perf_counter()
    first = first_graph = None
    with client.stream("POST", "/api/locate/stream", files=files) as response:
        for line in response.iter_lines():
            if line.startswith("data:"):
                now = time.perf_counter() - start
                first = first if first is not None else now
                if first_graph is None and json.loads(line[5:])["kind"] == "image":
                    first_graph = now
    if first is None or first_graph is None:
        raise RuntimeError("the stream ended before its first graph event")
    return first, first_graph


def bench(panorama: Path, runs: int, root: Path) -> dict:
    import httpx

    from sinoloc.agent.api import Geolocator

    data = panorama.read_bytes()
    files = {"image": ("pano.jpg", data, "image/jpeg")}
    out: dict = {"image": f"{panorama.name} ({len(data) // 1024} KB)", "runs": runs}
    locator = Geolocator(offline=True)  # the reference, in this process
    locator.locate(panorama)
    cold = time.perf_counter()
    proc, url = start_server(root)
    out["server_start_s"] = round(time.perf_counter() - cold, 2)
    api, direct = [], []
    try:
        with httpx.Client(base_url=url, timeout=120) as client:
            start = time.perf_counter()
            client.post("/api/locate", files=files).raise_for_status()
            out["first_locate_s"] = round(time.perf_counter() - start, 3)
            for _ in range(runs):  # interleaved: a machine whose load moves affects both alike
                start = time.perf_counter()
                client.post("/api/locate", files=files).raise_for_status()
                api.append(time.perf_counter() - start)
                start = time.perf_counter()
                locator.locate(panorama)
                direct.append(time.perf_counter() - start)
            streamed = [_stream_times(client, files) for _ in range(runs)]
        out["server_rss_mb"] = _rss_mb(proc.pid)
    finally:
        proc.terminate()
        proc.wait(30)
    out.update({
        "api_locate_s": _median(api), "geolocator_locate_s": _median(direct),
        "api_over_geolocator": round(statistics.median(api) / statistics.median(direct), 2),
        "first_event_s": _median([s[0] for s in streamed]),
        "first_graph_event_s": _median([s[1] for s in streamed]),
        "targets": {"api_locate_s": 0.5, "first_event_s": 0.2}})
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--panorama", type=Path, default=None)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        panorama = args.panorama or synthetic_panorama(root / "pano.jpg")
        print(json.dumps(bench(panorama, args.runs, root), indent=2))


if __name__ == "__main__":
    main()
