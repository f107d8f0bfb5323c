"""Each node records how long it took under ``timings`` (seconds, 4 decimals)."""

from __future__ import annotations

import time


def timed(name: str, start: float) -> dict:
    """The ``timings`` update for a step named ``name`` that began at ``start``
    (``time.perf_counter()``)."""
    return {"timings": {name: round(time.perf_counter() - start, 4)}}
