"""A one-line progress meter on stderr: done / total, rate, ETA and failures so far.

Both ``sinoloc locate``'s batches and eval's runner show it, so it lives at the bottom layer.
"""

from __future__ import annotations

import sys
import time


def _clock(seconds: float) -> str:
    seconds = int(max(0, seconds))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


class Progress:
    def __init__(self, total: int, done: int = 0, enabled: bool = True, stream=None):
        self.total, self.done, self.enabled = total, done, enabled
        self.stream = stream or sys.stderr
        self.start = time.monotonic()
        self.new = 0
        self.failed = 0

    def line(self) -> str:
        elapsed = time.monotonic() - self.start
        rate = self.new / elapsed if elapsed > 0 and self.new else 0.0
        eta = (self.total - self.done) / rate if rate else float("nan")
        share = self.done / self.total if self.total else 1.0
        return (f"[{self.done}/{self.total}] {share:4.0%}  {rate:.2f} img/s  "
                f"ETA {_clock(eta) if eta == eta else '?'}  failed {self.failed}")

    def step(self, status: str) -> None:
        self.done += 1
        self.new += 1
        self.failed += status != "ok"
        if self.enabled:
            self.stream.write("\r" + self.line())
            self.stream.flush()

    def close(self) -> None:
        if self.enabled:
            self.stream.write("\n")
            self.stream.flush()
