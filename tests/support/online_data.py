"""Recorded map-provider answers (tests/data/online) and a metre scale for checking points."""

from __future__ import annotations

import json
import math
from pathlib import Path

RECORDED = Path(__file__).parents[1] / "data" / "online"


def recorded(name: str):
    """A recorded answer by its file name (without ``.json``)."""
    return json.loads((RECORDED / f"{name}.json").read_text(encoding="utf-8"))


def metres(lon1, lat1, lon2, lat2) -> float:
    """The distance between two nearby points (equirectangular: exact enough within a km)."""
    dy = (lat2 - lat1) * 111_320
    dx = (lon2 - lon1) * 111_320 * math.cos(math.radians(lat1))
    return math.hypot(dx, dy)
