"""Images the tests render themselves (a CJK font from the system: fonts-wqy-zenhei)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from sinoloc.benchmarks.probe_render import cjk_font  # the probe benchmark renders signs alike

__all__ = ["cjk_font"]


def street_scene(width: int = 1200, height: int = 800, seed: int = 0) -> Image.Image:
    """A plain 'street': sky, buildings, road (no text)."""
    rng = np.random.default_rng(seed)
    img = Image.new("RGB", (width, height), (150, 185, 225))
    draw = ImageDraw.Draw(img)
    x = 0
    while x < width:
        w = int(rng.integers(120, 260))
        h = int(rng.integers(height // 3, height // 2))
        shade = int(rng.integers(120, 200))
        draw.rectangle([x, height // 2 - h // 2, x + w, int(height * 0.75)],
                       fill=(shade, shade - 10, shade - 25))
        x += w + int(rng.integers(5, 30))
    draw.rectangle([0, int(height * 0.75), width, height], fill=(80, 80, 85))
    return img


def draw_sign(img: Image.Image, lines: list[str], xy: tuple[int, int], size: int = 40,
              fg=(255, 255, 255), bg=(30, 60, 160)) -> None:
    draw = ImageDraw.Draw(img)
    font = cjk_font(size)
    widths = [draw.textlength(line, font=font) for line in lines]
    pad = size // 3
    x, y = xy
    box = [x, y, x + int(max(widths)) + 2 * pad, y + len(lines) * int(size * 1.3) + 2 * pad]
    draw.rectangle(box, fill=bg)
    for i, line in enumerate(lines):
        draw.text((x + pad, y + pad + i * int(size * 1.3)), line, font=font, fill=fg)


def draw_plate(img: Image.Image, text: str, xy: tuple[int, int], size: int = 44) -> None:
    draw_sign(img, [text], xy, size=size, fg=(255, 255, 255), bg=(20, 70, 200))


def hangzhou_shop(path: Path | None = None) -> Image.Image:
    """The issue's reference photo: a shop sign with a full address and a landline, a car plate."""
    img = street_scene()
    draw_sign(img, ["杭州市西湖区文三路138号", "电话0571-88886666"], (120, 160), size=46)
    draw_plate(img, "浙A·12345", (700, 640))
    if path is not None:
        img.save(path, quality=92)
    return img


def unplaced_sign(path: Path, lines: tuple[str, ...] = ("老王记牛肉面", "欢迎光临"), seed: int = 3,
                  xy: tuple[int, int] = (150, 200), bg=(30, 60, 160)) -> Path:
    """A shop sign that names no place (nothing on it locates the photo)."""
    img = street_scene(seed=seed)
    draw_sign(img, list(lines), xy, size=50, bg=bg)
    img.save(path, quality=92)
    return path


def panorama_with_side_sign(lines: list[str], heading: float = 90.0, width: int = 2048,
                            size: int = 30) -> Image.Image:
    """An equirectangular 2:1 panorama whose only text is a flat sign at ``heading`` degrees
    clockwise from the centre (drawn on the horizon band, where distortion is small)."""
    height = width // 2
    pano = street_scene(width, height, seed=3)
    draw = ImageDraw.Draw(pano)
    draw.rectangle([0, int(height * 0.8), width, height], fill=(20, 20, 20))  # the capture car
    cx = int((0.5 + heading / 360.0) * width) % width
    probe = ImageDraw.Draw(Image.new("RGB", (10, 10)))
    text_w = max(probe.textlength(line, font=cjk_font(size)) for line in lines)
    draw_sign(pano, lines, (int(cx - text_w / 2), int(height * 0.42)), size=size)
    return pano
