"""One line on stderr while a first-run cache is built (the region index, the town index, the
map outlines): seconds that would otherwise look like a hang. Rewritten in place on a
terminal; a start line and an end line otherwise (logs stay short)."""

from __future__ import annotations

import sys
import time


class BuildProgress:
    """``progress(done, total)``: 0 starts, ``total`` ends, anything between reports a step."""

    EVERY_S = 0.25

    def __init__(self, stream=None, what: str = "the region index", unit: str = "boundaries",
                 doing: str = "reading", did: str = "read"):
        self.stream = stream or sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.prefix = f"sinoloc: building {what} (first run only)"
        self.unit, self.doing, self.did = unit, doing, did
        self.start = time.monotonic()
        self._shown = 0.0

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if done == 0:
            self.stream.write(f"{self.prefix}: {self.doing} {total} {self.unit}…"
                              + ("" if self.tty else "\n"))
        elif done >= total:
            end = "\r" if self.tty else ""
            self.stream.write(f"{end}{self.prefix}: {total} {self.unit} {self.did} in "
                              f"{now - self.start:.1f} s\n")
        elif self.tty and now - self._shown >= self.EVERY_S:
            self.stream.write(f"\r{self.prefix}: {done}/{total} {self.unit} ({done / total:.0%})")
            self._shown = now
        else:
            return
        self.stream.flush()
