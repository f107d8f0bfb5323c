"""Perspective views of equirectangular panoramas, so text on any side is upright and flat.

A view is named by its heading (degrees clockwise from the panorama's centre column), pitch and
field of view; the graph stores these specs, never the pixels.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from PIL import Image
from pydantic import BaseModel


class ViewSpec(BaseModel):
    view_id: str
    heading: float | None = None  # None: the whole (non-panorama) image
    pitch: float = 0.0
    fov: float = 90.0
    width: int = 0
    height: int = 0


WHOLE_IMAGE = ViewSpec(view_id="full")


def panorama_views(pano_width: int = 2048, count: int = 4, fov: float = 100.0,
                   pitch: float = -5.0, aspect: float = 0.8) -> list[ViewSpec]:
    """``count`` headings evenly around the panorama; a field of view wider than 360/count
    overlaps neighbours, so a sign on a seam is whole in one of them, and a line wider than the
    overlap is joined again from its two halves (:mod:`sinoloc.tools.ocr.seams`). Views ``aspect``
    times as tall as wide, pitched 5° down, see from 48° below the horizon (the plate of a car
    parked 2 m away, seen from a capture car's 2.5 m camera; the capture car itself lies lower) to
    38° above it (shop signs across the street). Views match the panorama's own
    angular resolution (no pixels are invented for OCR to pay for), between 480 and 960 px wide."""
    step = 360.0 / count
    width = int(min(960, max(480, round(pano_width * fov / 360.0))))
    height = round(width * aspect)
    return [ViewSpec(view_id=f"h{round(i * step):03d}", heading=i * step, pitch=pitch,
                     fov=fov, width=width, height=height) for i in range(count)]


def view_for_heading(heading: float, fov: float = 60.0, width: int = 960, height: int = 720,
                     pitch: float = 0.0) -> ViewSpec:
    heading = heading % 360.0
    return ViewSpec(view_id=f"h{round(heading):03d}f{int(fov)}", heading=heading,
                    pitch=pitch, fov=fov, width=width, height=height)


def _ray_angles(spec: ViewSpec, x, y):
    """Where pixel(s) (x, y) of the view ``spec`` look: (longitude, latitude) in radians,
    longitude 0 at the panorama's centre column; ``x``, ``y`` scalars or arrays alike."""
    assert spec.heading is not None, "a whole-image spec has no panorama angles"
    f = 0.5 * spec.width / np.tan(np.radians(spec.fov) / 2)
    xc, yc = x - (spec.width - 1) / 2, y - (spec.height - 1) / 2
    z = np.full_like(xc, f) if isinstance(xc, np.ndarray) else f
    # camera rays: x right, y down, z forward; pitch rotates about x, heading about y
    pitch, yaw = np.radians(spec.pitch), np.radians(spec.heading)
    y_r = yc * np.cos(pitch) - z * np.sin(pitch)
    z_r = yc * np.sin(pitch) + z * np.cos(pitch)
    x_w = xc * np.cos(yaw) + z_r * np.sin(yaw)
    z_w = -xc * np.sin(yaw) + z_r * np.cos(yaw)
    return np.arctan2(x_w, z_w), np.arctan2(-y_r, np.hypot(x_w, z_w))


@lru_cache(maxsize=32)
def _remap_tables(pano_w: int, pano_h: int, spec_json: str) -> tuple[np.ndarray, np.ndarray]:
    spec = ViewSpec.model_validate_json(spec_json)
    assert spec.heading is not None, "a whole-image spec has no view to render (render_view returns it as is)"
    x, y = np.meshgrid(np.arange(spec.width, dtype=np.float32),
                       np.arange(spec.height, dtype=np.float32))
    lon, lat = _ray_angles(spec, x, y)
    map_x = ((lon / (2 * np.pi) + 0.5) * pano_w).astype(np.float32) % pano_w
    map_y = ((0.5 - lat / np.pi) * pano_h).astype(np.float32)
    return map_x, map_y


def view_angles(spec: ViewSpec, x: float, y: float) -> tuple[float, float]:
    """Where pixel (x, y) of a panorama view looks: (longitude, latitude) in degrees, longitude 0
    at the panorama's centre column and growing to the right (the inverse of :func:`render_view`)."""
    assert spec.heading is not None, "a whole-image spec has no panorama angles"
    lon, lat = _ray_angles(spec, x, y)
    return float(np.degrees(lon)), float(np.degrees(lat))


def render_view(panorama: Image.Image, spec: ViewSpec) -> Image.Image:
    """Render a pinhole view of an equirectangular panorama (bilinear sampling; the sampling
    tables are cached per panorama size and view)."""
    import cv2

    if spec.heading is None:
        return panorama
    src = np.asarray(panorama)
    map_x, map_y = _remap_tables(panorama.width, panorama.height, spec.model_dump_json())
    out = cv2.remap(src, map_x, map_y, interpolation=cv2.INTER_LINEAR,
                    borderMode=cv2.BORDER_WRAP)
    return Image.fromarray(out)


def default_views(is_panorama: bool, width: int) -> list[ViewSpec]:
    return panorama_views(width) if is_panorama else [WHOLE_IMAGE]
