"""Small labelled sets rendered by the tests (never the dev bench)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from imaging import hangzhou_shop, street_scene

WEST_LAKE = (30.2741, 120.1247)
SCENES = [("beijing", 39.9087, 116.3975), ("chengdu", 30.6586, 104.0647),
          ("urumqi", 43.8256, 87.6168), ("guangzhou", 23.1291, 113.2644),
          ("harbin", 45.8038, 126.5350), ("lhasa", 29.6500, 91.1000)]


def labelled_set(folder: Path, scenes: int = 3, extra_columns: str = "") -> Path:
    """``set.csv``: the Hangzhou shop sign and ``scenes`` plain street scenes."""
    folder.mkdir(parents=True, exist_ok=True)
    hangzhou_shop(folder / "shop.jpg")
    rows = [f"id,image,lat,lon,cluster{extra_columns and ',' + extra_columns.split('=')[0]}"]
    extra = f",{extra_columns.split('=')[1]}" if extra_columns else ""
    rows.append(f"shop,shop.jpg,{WEST_LAKE[0]},{WEST_LAKE[1]},east{extra}")
    for i, (name, lat, lon) in enumerate(SCENES[:scenes]):
        street_scene(480, 320, seed=i + 1).save(folder / f"{name}.jpg", quality=85)
        rows.append(f"{name},{name}.jpg,{lat},{lon},{'west' if lon < 105 else 'east'}{extra}")
    path = folder / "set.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def wait_for_rows(process, log: Path, rows: int, timeout: float = 180) -> None:
    """Wait until a run started as ``process`` has written ``rows`` lines to ``log`` (fails the
    test when the run ends first, or after ``timeout`` seconds)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if log.exists() and log.read_bytes().count(b"\n") >= rows:
            return
        if process.poll() is not None:
            pytest.fail("the run ended too early: " + process.stderr.read().decode())
        time.sleep(0.05)
    pytest.fail(f"no {rows} row(s) within {timeout} s")
