"""Eval throughput when the model is the bottleneck: ``--workers 1`` against Ray actors, and the
cluster-wide model rate limit measured where it matters, at the server.

    python -m sinoloc.benchmarks.ray_eval [--images 100] [--actors 16] [--call-s 2] [--rate 5]

A loopback OpenAI-compatible server (127.0.0.1 only) stands in for a slow served model: every
chat completion takes ``--call-s`` seconds and answers in words, so with ``--max-model-calls 1``
each image costs exactly one call (the policy then hands over to the deterministic policy). OCR
and the prior are switched off in every run, so the figure is the engine's, not the CPU's. Three
runs of ``sinoloc eval run`` on the same rendered images: the local engine with one worker, Ray
with ``--actors`` actors (a local cluster on 127.0.0.1 started by the run), and Ray again with
``--model-rate``; each reports images per minute over the whole command (start-up included) and
over the span of its model calls at the server, and the most requests the server saw within any
1 s and any 5 s. Nothing is a timed test: read the figures, compare the ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
from PIL import Image

REPLY = {"id": "chatcmpl-bench", "object": "chat.completion", "created": 0, "model": "bench",
         "choices": [{"index": 0, "finish_reason": "stop",
                      "message": {"role": "assistant", "content": "I cannot tell from this."}}],
         "usage": {"prompt_tokens": 1000, "completion_tokens": 8, "total_tokens": 1008}}


class SlowModelServer:
    """``POST …/chat/completions`` answered after ``delay_s`` (``reply(request body)``, or
    :data:`REPLY`); arrival times kept."""

    HOST = "127.0.0.1"

    def __init__(self, delay_s: float, reply=None):
        self.arrivals: list[float] = []
        lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_POST(self):
                with lock:
                    server.arrivals.append(time.time())
                request = self.rfile.read(int(self.headers.get("content-length") or 0))
                time.sleep(delay_s)
                answer = reply(json.loads(request)) if reply is not None else REPLY
                body = json.dumps(answer, ensure_ascii=False).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer((self.HOST, 0), Handler)
        self.httpd.daemon_threads = True
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://{self.HOST}:{self.httpd.server_port}/v1"

    def take(self) -> list[float]:
        arrivals, self.arrivals = sorted(self.arrivals), []
        return arrivals

    def close(self) -> None:
        self.httpd.shutdown()


def labelled_images(folder: Path, n: int) -> Path:
    """``n`` small noise photos and a labels CSV (all at one point: the figure is speed)."""
    rng = np.random.default_rng(0)
    rows = ["id,image,lat,lon"]
    for i in range(n):
        name = f"img{i:04d}.jpg"
        Image.fromarray(rng.integers(40, 220, (240, 320, 3), dtype=np.uint8)).save(folder / name)
        rows.append(f"b{i:04d},{name},30.2741,120.1247")
    path = folder / "labels.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def busiest(arrivals: list[float], window_s: float) -> int:
    """The most requests that arrived within any ``window_s`` seconds."""
    return max((sum(1 for t in arrivals if s <= t < s + window_s) for s in arrivals), default=0)


def run_eval(data: Path, out: Path, url: str, extra: list[str]) -> dict:
    command = [sys.executable, "-m", "sinoloc.app.cli.main", "eval", "run", str(data), "--out",
               str(out), "--llm", "openai:bench", "--base-url", url, "--max-model-calls", "1",
               "--disable", "ocr", "--disable", "cnn_prior", "--offline", "--no-progress", *extra]
    env = {**os.environ, "OPENAI_API_KEY": "sk-loopback-bench"}
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(extra)}: exit {done.returncode}\n{done.stderr[-2000:]}")
    rows = [json.loads(line) for line in (out / "predictions.jsonl").open(encoding="utf-8")]
    return {"seconds": round(seconds, 1), "rows": len(rows),
            "ok": sum(r["status"] == "ok" for r in rows)}


def measured(name: str, result: dict, arrivals: list[float], images: int) -> dict:
    span = (arrivals[-1] - arrivals[0]) if len(arrivals) > 1 else float("nan")
    return {"run": name, **result, "model_calls": len(arrivals),
            "images_per_min": round(60 * images / result["seconds"], 1),
            "calls_span_s": round(span, 1),
            "images_per_min_while_calling": round(60 * (len(arrivals) - 1) / span, 1)
            if len(arrivals) > 1 else None,
            "requests_per_s": round((len(arrivals) - 1) / span, 2) if len(arrivals) > 1 else None,
            "busiest_1s": busiest(arrivals, 1.0), "busiest_5s": busiest(arrivals, 5.0)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=100)
    parser.add_argument("--actors", type=int, default=16)
    parser.add_argument("--call-s", type=float, default=2.0)
    parser.add_argument("--rate", type=float, default=5.0, help="model requests/s, limited run")
    parser.add_argument("--skip-local", action="store_true", help="only the Ray runs")
    args = parser.parse_args(argv)
    server = SlowModelServer(args.call_s)
    results = []
    with tempfile.TemporaryDirectory(prefix="sinoloc-bench-ray-") as tmp:
        folder = Path(tmp)
        data = labelled_images(folder, args.images)
        runs = [] if args.skip_local else [("local --workers 1", ["--workers", "1"])]
        runs += [(f"ray --actors {args.actors}", ["--engine", "ray", "--actors", str(args.actors)]),
                 (f"ray --actors {args.actors} --model-rate {args.rate:g}",
                  ["--engine", "ray", "--actors", str(args.actors), "--model-rate",
                   str(args.rate)])]
        for i, (name, extra) in enumerate(runs):
            result = run_eval(data, folder / f"run{i}", server.url, extra)
            results.append(measured(name, result, server.take(), args.images))
            print(json.dumps(results[-1]), flush=True)
    server.close()
    load = os.getloadavg()
    print(json.dumps({"cpus": os.cpu_count(), "load_avg_1_5_15": [round(x, 2) for x in load],
                      "call_s": args.call_s}))
    if not args.skip_local and len(results) >= 2:
        print(json.dumps({"speedup_ray_over_local": round(
            results[1]["images_per_min"] / results[0]["images_per_min"], 2)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
