"""Where an OCR line was read, in the pixels of the image the run was given.

OCR reads rendered views of a panorama, the image itself, or a zoomed crop, and keeps each line's
box in the pixels of what it read (:class:`~sinoloc.tools.ocr.OcrSpan`). To draw the box on the
photo it is mapped back: through the crop's origin and upscale factor for a crop, and, for a
panorama view, point by point through the view's camera (:func:`~sinoloc.tools.views.view_angles`)
to longitude and latitude, which are the equirectangular image's x and y. A straight edge in a
view is a curve in the panorama, so each edge is sampled; a box that crosses the panorama's
0/360° seam comes back as two polygons, one at each side (the same polygon shifted by the
image's width), so whatever draws them clips each at the image's edge.
"""

from __future__ import annotations

import re

from sinoloc.tools.images import ImageInputError, crop_geometry
from sinoloc.tools.views import ViewSpec, panorama_views, view_angles, view_for_heading

EDGE_SAMPLES = 6  # points per box edge in a panorama view (a straight edge becomes a curve)
Point = tuple[float, float]
Polygon = list[Point]

_BOX_VIEW = re.compile(r"^box(\d+(?:\.\d+)?)-(\d+(?:\.\d+)?)-(\d+(?:\.\d+)?)-(\d+(?:\.\d+)?)$")
_ZOOM_VIEW = re.compile(r"^h(\d{3})f(\d+)$")


def panorama_point(spec: ViewSpec, x: float, y: float, width: int, height: int) -> Point:
    """Pixel (x, y) of the panorama view ``spec`` in a ``width``×``height`` equirectangular
    image: the pixel :func:`~sinoloc.tools.views.render_view` samples for it (x in [0, width))."""
    lon, lat = view_angles(spec, x, y)
    return ((lon / 360.0 + 0.5) * width) % width, (0.5 - lat / 180.0) * height


def view_spec(view_id: str, heading: float | None, width: int) -> ViewSpec | None:
    """The panorama view named ``view_id`` (one of :func:`panorama_views` of a ``width``-pixel
    panorama, or a zoomed :func:`view_for_heading`), with ``heading`` as the span recorded it;
    None for a view that is not a panorama view."""
    if heading is None:
        return None
    for spec in panorama_views(width):
        if spec.view_id == view_id:
            return spec.model_copy(update={"heading": heading})
    zoom = _ZOOM_VIEW.match(view_id)
    if zoom is not None:
        return view_for_heading(heading, fov=float(zoom.group(2)))
    return None


def _edge_points(box: list[Point]) -> list[Point]:
    """The box's outline with ``EDGE_SAMPLES`` points along each edge (its corners included)."""
    out: list[Point] = []
    for (x0, y0), (x1, y1) in zip(box, [*box[1:], box[0]], strict=True):
        out += [(x0 + (x1 - x0) * k / EDGE_SAMPLES, y0 + (y1 - y0) * k / EDGE_SAMPLES)
                for k in range(EDGE_SAMPLES)]
    return out


def _unwrapped(points: list[Point], width: int) -> list[Point]:
    """``points`` with x shifted by multiples of ``width`` so that neighbours never jump by more
    than half the image (one continuous polygon across the seam)."""
    out = [points[0]]
    for x, y in points[1:]:
        prev = out[-1][0]
        x += width * round((prev - x) / width)
        out.append((x, y))
    return out


def panorama_polygons(spec: ViewSpec, box: list[Point], width: int, height: int) -> list[Polygon]:
    """The box (in the view's pixels) as polygons in the equirectangular image: one, or two where
    it crosses the 0/360° seam (the second shifted by ``width`` to the other side)."""
    mapped = [panorama_point(spec, x, y, width, height) for x, y in _edge_points(box)]
    polygon = _unwrapped(mapped, width)
    xs = [x for x, _ in polygon]
    if min(xs) >= 0 and max(xs) <= width:
        return [polygon]
    shift = width if min(xs) < 0 else -width
    return [polygon, [(x + shift, y) for x, y in polygon]]


def crop_polygon(view_id: str, box: list[Point], width: int, height: int) -> Polygon | None:
    """A box read in a zoomed crop (view ``box<x0>-<y0>-<x1>-<y1>``, fractions of the image) in
    the image's pixels; None when the id names no crop."""
    match = _BOX_VIEW.match(view_id)
    if match is None:
        return None
    x0, y0, x1, y1 = (float(v) for v in match.groups())
    try:
        (left, top, _, _), factor = crop_geometry(width, height, (x0, y0, x1, y1))
    except ImageInputError:
        return None
    return [(left + x / factor, top + y / factor) for x, y in box]


def image_polygons(view_id: str, heading: float | None, box: list[Point], width: int,
                   height: int, is_panorama: bool) -> list[Polygon]:
    """Where a line read in view ``view_id`` with ``box`` lies in the ``width``×``height`` image
    the run was given (the work image OCR read): polygons in its pixels, none when unknown."""
    if len(box) < 3:
        return []
    spec = view_spec(view_id, heading, width) if is_panorama else None
    if spec is not None:
        return panorama_polygons(spec, box, width, height)
    if view_id.startswith("box"):
        polygon = crop_polygon(view_id, box, width, height)
        return [polygon] if polygon is not None else []
    return [list(box)]
