"""Wall time of ``samples`` = K against K = 1 on the same image, with a loopback model server
that answers every request in a fixed time (default 0.5 s): the trajectories run concurrently,
so K = 3 should cost about one trajectory's time, not three (target: ≤ 1.5×).

    python -m sinoloc.benchmarks.samples [--k 3] [--delay 0.5] [--repeats 3]

The server speaks the OpenAI-compatible chat API on 127.0.0.1 (the real ``langchain_openai``
client talks to it over a socket): each trajectory reads the clues of a fixed sign text, then
submits an answer citing the evidence ids its request carries. The graph runs for real
(ingest, prelude with OCR, policy ⇄ tools, verify, the selector, commit). Medians of
``--repeats`` runs of each, in the same process, on a procedural street-like photo.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np

from sinoloc.benchmarks.probe_render import procedural_background
from sinoloc.benchmarks.ray_eval import SlowModelServer

SIGN = "杭州市西湖区文三路138号 电话0571-88886666"
ANSWER = {"province": "浙江省", "city": "杭州市", "district": "西湖区", "lat": 30.2741,
          "lon": 120.1305, "confidence": 0.8}


def _reply(body: dict) -> dict:
    """Read the clues first; once a tool result is in the conversation, submit citing it."""
    results = [m for m in body.get("messages", []) if m.get("role") == "tool"]
    if not results:
        call = {"name": "lookup_clues", "arguments": json.dumps({"text": SIGN}, ensure_ascii=False)}
    else:
        ids = sorted(set(re.findall(r"\bE\d+\b", " ".join(str(m.get("content")) for m in results))))
        args = {**ANSWER, "province_evidence": ids, "city_evidence": ids,
                "district_evidence": ids, "reasoning": "the sign's address"}
        call = {"name": "submit_answer", "arguments": json.dumps(args, ensure_ascii=False)}
    message = {"role": "assistant", "content": None, "tool_calls": [
        {"id": f"call_{uuid.uuid4().hex[:12]}", "type": "function", "function": call}]}
    return {"id": f"chatcmpl-{uuid.uuid4().hex[:8]}", "object": "chat.completion",
            "created": int(time.time()), "model": "bench",
            "choices": [{"index": 0, "message": message, "finish_reason": "tool_calls"}],
            "usage": {"prompt_tokens": 1000, "completion_tokens": 50, "total_tokens": 1050}}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sinoloc.benchmarks.samples",
                                     description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--k", type=int, default=3, help="samples to compare with 1")
    parser.add_argument("--delay", type=float, default=0.5, help="the model's answer time")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    os.environ.setdefault("OPENAI_API_KEY", "loopback-benchmark")
    from sinoloc.agent.api import Geolocator

    server = SlowModelServer(args.delay, reply=_reply)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            image = Path(tmp) / "street.jpg"
            procedural_background(np.random.default_rng(0), 1200, 800).convert("RGB").save(
                image, quality=90)
            locator = Geolocator(llm="openai:bench", base_url=server.url)
            options: dict = {"offline": True, "adaptive_budget": False, "max_model_calls": 12}
            locator.locate(image, **options)  # warm: OCR models, region index, the client
            walls: dict[int, list[float]] = {1: [], args.k: []}
            calls: dict[int, int] = {}
            for _ in range(args.repeats):
                for k in (1, args.k):
                    server.take()
                    start = time.perf_counter()
                    p = locator.locate(image, samples=k, **options)
                    walls[k].append(time.perf_counter() - start)
                    calls[k] = len(server.take())
                    ran = p.samples.k if p.samples else 1
                    assert ran == k, f"asked for {k} trajectories, {ran} ran"
    finally:
        server.close()
    one, many = statistics.median(walls[1]), statistics.median(walls[args.k])
    print(f"model answer time {args.delay:g} s; medians of {args.repeats} runs")
    print(f"K=1: {one:.2f} s ({calls[1]} model calls)")
    print(f"K={args.k}: {many:.2f} s ({calls[args.k]} model calls)")
    print(f"ratio K={args.k} / K=1: {many / one:.2f}× (target ≤ 1.5×; "
          f"{args.k}× would be one trajectory after another)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
