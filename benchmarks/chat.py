"""Responsiveness of ``sinoloc chat`` on the offline default, as medians with same-run references.

    python -m sinoloc.benchmarks.chat [IMAGE ...] [--runs 5]

- time to first streamed event: from handing a new image to the session (what Enter on an
  image path does) to the first event the terminal prints; the reference is the whole turn to
  the answer in the same run (target: first event under 1 s);
- a follow-up command (``/candidates``, read from the checkpointed thread) against the same
  turn;
- cold start: process start to the first prompt of ``sinoloc chat``, against bare Python.

Without images it renders its own panoramas (a different one per run, so no cache helps).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sinoloc.benchmarks.locate import median_time, synthetic_panorama


def _panorama(path: Path, seed: int) -> Path:
    """The locate benchmark's panorama, different per seed (pixels and the number on the sign)."""
    return synthetic_panorama(path, seed, phone=f"0571-8888{seed:04d}")


def bench_turns(images: list[Path], store_dir: Path) -> dict:
    from sinoloc.app.chat.repl import ChatRepl
    from sinoloc.app.chat.session import ChatSession
    from sinoloc.app.chat.threads import ThreadStore

    with ThreadStore(store_dir / "bench.sqlite") as store:
        session = ChatSession(store)
        for _ in session.send_image(images[0]):  # warm: models, region index, graph
            pass
        first, whole, events, command = [], [], [], []
        repl = ChatRepl(session, write=lambda _text: None)
        for image in images[1:]:
            start = time.perf_counter()
            count = 0
            for count, _event in enumerate(session.send_image(image), start=1):
                if count == 1:
                    first.append(time.perf_counter() - start)
            whole.append(time.perf_counter() - start)
            events.append(count)
            start = time.perf_counter()
            repl.handle("/candidates")
            command.append(time.perf_counter() - start)
    return {
        "turns": len(first),
        "first_event_median_s": round(statistics.median(first), 4),
        "answer_median_s": round(statistics.median(whole), 3),
        "ratio_first_event_to_answer": round(statistics.median(first) / statistics.median(whole),
                                             3),
        "events_per_turn_median": statistics.median(events),
        "candidates_command_median_s": round(statistics.median(command), 4),
    }


def bench_cold_start(runs: int, store_dir: Path) -> dict:
    """Process start to the first prompt on stdout (then ``/quit``), against bare Python."""
    from sinoloc.app.chat.repl import PROMPT

    cli = Path(sys.executable).with_name("sinoloc")
    env = {**os.environ, "SINOLOC_CHAT_DB": str(store_dir / "cold.sqlite")}

    def to_prompt() -> float:
        start = time.perf_counter()
        process = subprocess.Popen([str(cli), "chat"], stdin=subprocess.PIPE,
                                   stdout=subprocess.PIPE, env=env)
        assert process.stdout is not None  # stdout=PIPE
        seen = b""
        while PROMPT.encode() not in seen:
            chunk = os.read(process.stdout.fileno(), 4096)
            if not chunk:
                raise RuntimeError("sinoloc chat exited before its prompt")
            seen += chunk
        elapsed = time.perf_counter() - start
        process.communicate(b"/quit\n")  # the exit (which waits for the warm-up) is not timed
        return elapsed

    chat = statistics.median(to_prompt() for _ in range(runs))
    python = median_time(lambda: subprocess.run([sys.executable, "-c", "pass"], check=True), runs)
    return {"chat_start_to_prompt_median_s": round(chat, 3),
            "bare_python_median_s": round(python, 3),
            "ratio_to_bare_python": round(chat / python, 1)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("images", nargs="*", type=Path, help="images (default: rendered)")
    parser.add_argument("--runs", type=int, default=5, help="turns (new images) to time")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        images = list(args.images) or [_panorama(folder / f"pano{i}.jpg", i)
                                       for i in range(args.runs + 1)]
        if len(images) < 2:
            parser.error("give at least two images (the first one warms the session)")
        result = {"turns": bench_turns(images[: args.runs + 1], folder),
                  "cold_start": bench_cold_start(max(1, min(args.runs, 3)), folder)}
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
