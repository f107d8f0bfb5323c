"""Pictures of probes: a sign (and a plate) over a background made here or taken from a folder.

Procedural backgrounds (gradient sky, building blocks, road, noise) carry no text, so the probe's
clue is the only thing to read. ``--backgrounds DIR`` pastes the same sign over real photos
instead (the dev bench: read at run time, never copied, never shipped); their own text may then
compete with the probe's clue, which is the point of that run.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
)
SIGN_COLOURS = (  # (text, board): shop-sign blue, red, green, white, black
    ((255, 255, 255), (30, 60, 160)), ((255, 240, 200), (170, 30, 30)), ((255, 255, 255), (20, 110, 60)),
    ((20, 20, 20), (235, 235, 230)), ((250, 210, 60), (25, 25, 25)),
)
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp"}


@lru_cache(maxsize=16)
def cjk_font(size: int) -> ImageFont.FreeTypeFont:
    for path in FONT_CANDIDATES:
        if Path(path).exists():
            return ImageFont.truetype(path, size)
    raise RuntimeError("no CJK font: apt-get install fonts-wqy-zenhei")


def procedural_background(rng: np.random.Generator, width: int = 1024, height: int = 768) -> Image.Image:
    """Sky gradient, a row of blocks (buildings), a road, and per-pixel noise: no text."""
    top, bottom = rng.integers(90, 230, 3), rng.integers(90, 230, 3)
    t = np.linspace(0.0, 1.0, height)[:, None, None]
    pixels = (top * (1 - t) + bottom * t) * np.ones((1, width, 1))
    x = 0
    while x < width:
        w, h = int(rng.integers(80, 260)), int(rng.integers(height // 4, height // 2))
        y1 = int(height * 0.75)
        pixels[y1 - h:y1, x:x + w] = rng.integers(60, 210, 3)
        x += w + int(rng.integers(4, 40))
    pixels[int(height * 0.75):] = rng.integers(50, 110)
    pixels += rng.normal(0.0, float(rng.uniform(2, 12)), pixels.shape)
    img = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
    return img.filter(ImageFilter.GaussianBlur(float(rng.uniform(0, 1.2))))


def background_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)


def _board(lines: list[str], size: int, colours) -> Image.Image:
    font = cjk_font(size)
    probe = ImageDraw.Draw(Image.new("RGB", (8, 8)))
    pad, step = size // 3, int(size * 1.3)
    width = int(max(probe.textlength(line, font=font) for line in lines)) + 2 * pad
    board = Image.new("RGB", (width, len(lines) * step + 2 * pad), colours[1])
    draw = ImageDraw.Draw(board)
    for i, line in enumerate(lines):
        draw.text((pad, pad + i * step), line, font=font, fill=colours[0])
    return board


def _fitted(lines: list[str], size: int, colours, max_width: int) -> Image.Image:
    """The board at ``size``, smaller until it fits ``max_width`` (never under 16 px text)."""
    board = _board(lines, size, colours)
    while board.width > max_width and size > 16:
        size = max(16, int(size * max_width / board.width))
        board = _board(lines, size, colours)
    return board


def render_probe(sign: list[str], plate: str | None, seed: int,
                 background: Path | None = None) -> Image.Image:
    """The probe's picture; the same arguments give the same pixels."""
    rng = np.random.default_rng(seed)
    if background is None:
        img = procedural_background(rng)
    else:
        with Image.open(background) as opened:
            img = opened.convert("RGB")
    width, height = img.size
    panorama = width >= 2 * height
    # on a panorama the sign stands near the horizon, away from the seam and the nadir
    band = (0.35, 0.55) if panorama else (0.08, 0.45)
    span = (0.15, 0.85) if panorama else (0.03, 0.97)
    usable = int(width * (0.35 if panorama else span[1] - span[0]))
    if sign:
        colours = SIGN_COLOURS[int(rng.integers(len(SIGN_COLOURS)))]
        board = _fitted(sign, int(rng.integers(34, 50)), colours, usable)
        x = int(rng.uniform(width * span[0], max(width * span[0], width * span[1] - board.width)))
        y = int(rng.uniform(height * band[0], max(height * band[0], height * band[1] - board.height)))
        img.paste(board, (x, y))
    if plate:
        board = _fitted([plate], int(rng.integers(36, 48)), ((255, 255, 255), (20, 70, 200)), usable // 2)
        x = int(rng.uniform(width * span[0], max(width * span[0], width * span[1] - board.width)))
        y = int(rng.uniform(height * 0.62, max(height * 0.62, height * 0.8 - board.height)))
        img.paste(board, (x, min(y, height - board.height)))
    return img
