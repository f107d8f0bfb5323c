"""Speed and memory of the offline default, as medians with same-run reference ratios.

    python -m sinoloc.benchmarks.locate [--panorama PANO.jpg] [--photo PHOTO.jpg] [--runs 5]

Without image arguments it renders its own 2048x1024 panorama (a sign on the side) and a
480x410 photo. Targets (issue #2): panorama ≤ 1.5 s warm, cold CLI start ≤ 4 s, peak RSS ≤
1.2 GB, batched reverse geocoding ≥ 20,000 points/s.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw


def synthetic_panorama(path: Path, seed: int = 0, phone: str = "0571-88886666") -> Path:
    """A 2048x1024 noise panorama with one sign (a phone number) on its right side."""
    rng = np.random.default_rng(seed)
    pano = Image.fromarray(rng.integers(90, 170, (1024, 2048, 3), dtype=np.uint8))
    draw = ImageDraw.Draw(pano)
    draw.rectangle([1480, 430, 1700, 500], fill=(30, 60, 160))
    draw.text((1490, 450), f"TEL {phone}", fill=(255, 255, 255))
    pano.save(path, quality=90)
    return path


def _synthetic_photo(path: Path) -> None:
    rng = np.random.default_rng(1)
    Image.fromarray(rng.integers(60, 200, (410, 480, 3), dtype=np.uint8)).save(path, quality=90)


def median_time(fn, runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def bench_locate(panorama: Path, photo: Path, runs: int) -> dict:
    from sinoloc.agent.api import Geolocator
    from sinoloc.tools.images import load_image
    from sinoloc.tools.ocr import get_engine, read_views
    from sinoloc.tools.views import default_views

    locator = Geolocator()
    for image in (panorama, photo):  # warm: models loaded, caches filled
        locator.locate(image)
    out = {}
    for name, image in (("panorama", panorama), ("photo", photo)):
        loaded = load_image(image)
        views = default_views(loaded.meta.is_panorama, loaded.image.width)
        ocr_only = median_time(
            lambda loaded=loaded, views=views: read_views(loaded.image, views, get_engine()), runs)
        full = median_time(lambda image=image: locator.locate(image), runs)
        out[name] = {"size": f"{loaded.meta.width}x{loaded.meta.height}",
                     "locate_median_s": round(full, 3), "ocr_only_median_s": round(ocr_only, 3),
                     "ratio_locate_to_ocr": round(full / ocr_only, 2) if ocr_only else None}
    return out


def bench_reverse(runs: int) -> dict:
    from sinoloc.tools.regions import get_region_index

    index = get_region_index()
    rng = np.random.default_rng(0)
    n = 100_000
    lon, lat = rng.uniform(74, 134, n), rng.uniform(18, 53, n)
    index.locate_districts(lon[:10], lat[:10])  # prepare polygons
    batched = median_time(lambda: index.locate_districts(lon, lat), runs)

    k = 2000  # reference: the same index queried one point at a time

    def naive():
        for x, y in zip(lon[:k], lat[:k], strict=True):
            index.reverse(x, y)

    per_point = median_time(naive, max(1, runs // 2)) / k
    return {"points": n, "batched_points_per_s": round(n / batched),
            "naive_points_per_s": round(1 / per_point),
            "speedup_vs_naive": round((n / batched) * per_point, 1)}


def bench_cold_start(image: Path, runs: int) -> dict:
    def cli():
        subprocess.run([sys.executable, "-m", "sinoloc.app.cli.main", "locate", str(image), "--json"],
                       check=True, capture_output=True)

    def bare():
        subprocess.run([sys.executable, "-c", "pass"], check=True)

    cold = median_time(cli, runs)
    python = median_time(bare, runs)
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return {"cli_to_first_answer_median_s": round(cold, 3),
            "python_startup_median_s": round(python, 3),
            "ratio_to_python_startup": round(cold / python, 1),
            "peak_rss_mb_child": round(peak_kb / 1024, 1)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--panorama", type=Path)
    parser.add_argument("--photo", type=Path)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--out", type=Path, help="write the results as JSON")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        panorama = args.panorama or Path(tmp) / "pano.jpg"
        photo = args.photo or Path(tmp) / "photo.jpg"
        if args.panorama is None:
            synthetic_panorama(panorama)
        if args.photo is None:
            _synthetic_photo(photo)
        results = {
            "locate": bench_locate(panorama, photo, args.runs),
            "reverse_geocoding": bench_reverse(args.runs),
            "cold_start": bench_cold_start(panorama, max(3, args.runs // 2)),
            "peak_rss_mb_this_process": round(
                resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        }
    text = json.dumps(results, indent=2, ensure_ascii=False)
    print(text)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
