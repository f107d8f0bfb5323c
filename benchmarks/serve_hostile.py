"""``sinoloc serve`` under hostile clients (issue 30): the figures its tests cannot time.

    python -m sinoloc.benchmarks.serve_hostile [--hostile 1000] [--stored 100000] [--skip ...]

Against ``sinoloc serve --offline`` in its own process on 127.0.0.1:

- ``dropped``: the median time of a normal upload (``POST /api/locate``, the demo shop sign),
  then ten clients that reset ``/api/locate/stream`` right after its first event, then the next
  upload's time (the reference is the median before: the ratio should be about 1);
- ``page``: the page's load time while 50 uploads arrive at once, against its time idle;
- ``big``: the server's peak RSS (``VmHWM``) before and after six concurrent uploads of a small
  PNG that declares 120 MP (10954 x 10954), and its RSS afterwards (target: < 1.5 GB);
- ``hostile``: N requests (valid tiny images with raised budgets, truncated PNGs, non-images,
  long follow-up questions), then the disk the upload store takes and the thread database's size,
  next to the bounds they were started with (small ones, so that the bounds are reached);
- ``questions``: the thread database before and after 100 long follow-up questions on one thread;

and in this process, ``stored``: the upload store's time per upload with N files already stored,
against one scan of the folder (what every upload cost before: the reference).
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import os
import random
import socket
import statistics
import struct
import tempfile
import threading
import time
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from sinoloc.benchmarks.serve import start_server

HOSTILE_LIMITS = {"SINOLOC_UPLOAD_STORE_MB": "4", "SINOLOC_UPLOAD_STORE_FILES": "100",
                  "SINOLOC_SERVE_THREADS": "50", "SINOLOC_SERVE_THREADS_MB": "8"}


def _proc_kb(pid: int, field: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def _demo() -> bytes:
    from sinoloc.app.cli.common import demo_image

    return demo_image().read_bytes()


def _timed_upload(client, data: bytes) -> float:
    start = time.perf_counter()
    client.post("/api/locate", files={"image": ("s.jpg", data, "image/jpeg")}).raise_for_status()
    return time.perf_counter() - start


def _drop_stream(url: str, body: bytes) -> None:
    host, port = url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=120)
    sock.sendall((f"POST /api/locate/stream HTTP/1.1\r\nHost: {host}:{port}\r\n"
                  f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n").encode()
                 + body)
    seen = b""
    while b"event: thread" not in seen:
        chunk = sock.recv(4096)
        if not chunk:
            break
        seen += chunk
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def bench_dropped(root: Path, runs: int = 3) -> dict:
    import httpx

    data = _demo()
    body = json.dumps({"image": "data:image/jpeg;base64," + base64.b64encode(data).decode()}).encode()
    proc, url = start_server(root)
    try:
        with httpx.Client(base_url=url, timeout=600) as client:
            _timed_upload(client, data)  # warm
            before = [_timed_upload(client, data) for _ in range(runs)]
            for _ in range(10):
                _drop_stream(url, body)
            after = _timed_upload(client, data)
            again = _timed_upload(client, data)
    finally:
        proc.terminate()
        proc.wait(30)
    median = statistics.median(before)
    return {"upload_s_before": round(median, 3), "next_upload_after_10_dropped_s": round(after, 3),
            "the_one_after_s": round(again, 3), "ratio": round(after / median, 2)}


def bench_page(root: Path, uploads: int = 50) -> dict:
    """The page's load time while ``uploads`` uploads arrive at once (the reference: idle)."""
    import httpx

    data = _demo()
    proc, url = start_server(root)
    try:
        with httpx.Client(base_url=url, timeout=600) as client:
            idle = statistics.median(_timed_get(client) for _ in range(3))
            statuses: list[int] = []

            def upload(_: int) -> None:
                with httpx.Client(base_url=url, timeout=900) as c:
                    statuses.append(c.post("/api/locate", files={
                        "image": ("s.jpg", data, "image/jpeg")}).status_code)

            with ThreadPoolExecutor(uploads) as pool:
                pending = [pool.submit(upload, i) for i in range(uploads)]
                time.sleep(1.0)
                busy = statistics.median(_timed_get(client) for _ in range(3))
                for job in pending:
                    job.result()
    finally:
        proc.terminate()
        proc.wait(30)
    counts = {str(code): statuses.count(code) for code in sorted(set(statuses))}
    return {"page_s_idle": round(idle, 3), f"page_s_during_{uploads}_uploads": round(busy, 3),
            "upload_statuses": counts}


def _timed_get(client) -> float:
    start = time.perf_counter()
    client.get("/").raise_for_status()
    return time.perf_counter() - start


def huge_png(width: int = 10954, height: int = 10954) -> bytes:
    """A valid greyscale PNG of width x height that compresses to a few hundred KB."""
    row = b"\x00" + b"\x80" * width
    compressor = zlib.compressobj(9)
    raw = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()

    def chunk(kind: bytes, payload: bytes) -> bytes:
        return (struct.pack(">I", len(payload)) + kind + payload
                + struct.pack(">I", zlib.crc32(kind + payload) & 0xFFFFFFFF))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", raw) + chunk(b"IEND", b"")


def bench_big(root: Path) -> dict:
    import httpx

    png = huge_png()
    proc, url = start_server(root)
    try:
        peak_before = _proc_kb(proc.pid, "VmHWM")

        def upload(_: int) -> int:
            with httpx.Client(base_url=url, timeout=900) as client:
                return client.post("/api/locate", files={"image": ("big.png", png, "image/png")}
                                   ).status_code

        start = time.perf_counter()
        with ThreadPoolExecutor(6) as pool:
            statuses = list(pool.map(upload, range(6)))
        seconds = time.perf_counter() - start
        out = {"upload_kb": len(png) // 1024, "statuses": statuses, "seconds": round(seconds, 1),
               "peak_rss_mb_before": peak_before, "peak_rss_mb_after": _proc_kb(proc.pid, "VmHWM"),
               "rss_mb_after": _proc_kb(proc.pid, "VmRSS"), "target_peak_mb": 1536}
    finally:
        proc.terminate()
        proc.wait(30)
    return out


def _tiny_png(seed: int) -> bytes:
    from PIL import Image

    rng = random.Random(seed)
    image = Image.frombytes("RGB", (32, 32), bytes(rng.randrange(256) for _ in range(32 * 32 * 3)))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def _disk(folder: Path) -> tuple[int, int]:
    """(files, bytes on disk) of a folder."""
    files = [p for p in folder.rglob("*") if p.is_file()] if folder.exists() else []
    return len(files), sum(p.stat().st_blocks * 512 for p in files)


def bench_hostile(root: Path, count: int) -> dict:
    import httpx

    proc, url = start_server(root, HOSTILE_LIMITS)
    threads: list[str] = []
    statuses: dict[str, int] = {}
    lock = threading.Lock()

    def one(i: int) -> None:
        kind = ("image", "truncated", "text", "question", "json")[i % 5]
        with httpx.Client(base_url=url, timeout=600) as client:
            if kind == "image":
                r = client.post("/api/locate", files={"image": ("t.png", _tiny_png(i), "image/png")})
                if r.status_code == 200:
                    with lock:
                        threads.append(r.headers["x-sinoloc-thread"])
            elif kind == "truncated":
                data = _tiny_png(i)
                r = client.post("/api/locate", files={"image": ("t.png", data[: len(data) // 2],
                                                                "image/png")})
            elif kind == "text":
                r = client.post("/api/locate", files={"image": ("t.jpg", b"\xff\xd8\xff" + os.urandom(
                    2000), "image/jpeg")})
            elif kind == "question" and threads:
                with lock:
                    thread = random.choice(threads)
                with client.stream("POST", f"/api/threads/{thread}/ask",
                                   json={"question": "为什么? " * 300}) as r:
                    r.read()
            else:
                uri = "data:image/png;base64," + base64.b64encode(_tiny_png(i)).decode()
                r = client.post("/api/locate", json={"image": uri, "settings": {
                    "max_seconds": 1e9, "max_tool_calls": 200, "top_k": 50}})
        with lock:
            key = f"{kind} {r.status_code}"
            statuses[key] = statuses.get(key, 0) + 1

    start = time.perf_counter()
    try:
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(one, range(count)))
        seconds = time.perf_counter() - start
        files, disk = _disk(root / "uploads")
        db = sum(p.stat().st_size for p in root.glob("chat.sqlite*"))
        with httpx.Client(base_url=url, timeout=60) as client:
            listed = len(client.get("/api/threads", params={"limit": 200}).json())
    finally:
        proc.terminate()
        proc.wait(30)
    return {"requests": count, "seconds": round(seconds, 1), "statuses": statuses,
            "store_files": files, "store_disk_mb": round(disk / 2**20, 2),
            "thread_db_mb": round(db / 2**20, 2), "threads_listed": listed,
            "bounds": {"store_mb": 4, "store_files": 100, "threads": 50, "threads_mb": 8}}


def bench_questions(root: Path, questions: int = 100) -> dict:
    """The thread database before and after ``questions`` follow-up questions on one thread
    (f8da5f7 kept a full state copy per question: 9 → 124 MB for 100)."""
    import httpx

    proc, url = start_server(root)
    db = root / "chat.sqlite"

    def size() -> tuple[float, float]:  # (the database file, its write-ahead log) in MB
        wal = db.with_name(db.name + "-wal")
        return (round(db.stat().st_size / 2**20, 2),
                round(wal.stat().st_size / 2**20 if wal.exists() else 0.0, 2))

    try:
        with httpx.Client(base_url=url, timeout=600) as client:
            r = client.post("/api/locate", files={"image": ("s.jpg", _demo(), "image/jpeg")})
            thread = r.headers["x-sinoloc-thread"]
            before = size()
            for i in range(questions):
                with client.stream("POST", f"/api/threads/{thread}/ask",
                                   json={"question": f"为什么是这里？第{i}问 " + "理由" * 200}) as s:
                    s.read()
            after = size()
    finally:
        proc.terminate()
        proc.wait(30)
    return {"questions": questions, "db_mb_before": before[0], "wal_mb_before": before[1],
            "db_mb_after": after[0], "wal_mb_after": after[1]}


def bench_stored(root: Path, stored: int, uploads: int = 30) -> dict:
    from sinoloc.tools.upload_store import UploadStore

    folder = root / "store"
    folder.mkdir()
    for i in range(stored):  # tiny entries under hash-like names, as the store names them
        fd = os.open(folder / f"{i:064x}.png", os.O_WRONLY | os.O_CREAT, 0o644)
        os.write(fd, b"x" * 20)
        os.close(fd)

    def scan() -> float:  # what each upload cost before: a stat of every stored file
        start = time.perf_counter()
        for entry in os.scandir(folder):
            entry.stat(follow_symlinks=False)
        return time.perf_counter() - start

    scans = [scan() for _ in range(3)]
    store = UploadStore(folder, max_bytes=1 << 40, max_age_s=1e9, max_files=10 * stored)
    start = time.perf_counter()
    store.add(b"first upload", "PNG")  # includes the store's one scan of the folder
    first = time.perf_counter() - start
    times = []
    for i in range(uploads):
        start = time.perf_counter()
        store.add(f"upload {i}".encode() * 100, "PNG")
        times.append(time.perf_counter() - start)
    per_upload = statistics.median(times)
    return {"stored_files": stored, "scan_per_upload_before_s": round(statistics.median(scans), 3),
            "first_upload_s": round(first, 3), "upload_s": round(per_upload, 5),
            "scan_over_upload": round(statistics.median(scans) / per_upload, 1)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hostile", type=int, default=1000, help="hostile requests (default 1000)")
    parser.add_argument("--stored", type=int, default=100_000, help="files already stored")
    parser.add_argument("--skip", nargs="*", default=[], choices=[
        "dropped", "page", "big", "hostile", "questions", "stored"])
    args = parser.parse_args(argv)
    out: dict = {"load_average": os.getloadavg(), "cpus": os.cpu_count()}
    for name, run in (("dropped", bench_dropped), ("page", bench_page), ("big", bench_big),
                      ("hostile", lambda r: bench_hostile(r, args.hostile)),
                      ("questions", bench_questions),
                      ("stored", lambda r: bench_stored(r, args.stored))):
        if name in args.skip:
            continue
        with tempfile.TemporaryDirectory() as tmp:
            out[name] = run(Path(tmp))
        print(json.dumps({name: out[name]}, ensure_ascii=False), flush=True)
    out["load_average_end"] = os.getloadavg()
    print(json.dumps(out, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
