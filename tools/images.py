"""Image ingest: decode safely, orient, read EXIF GPS, detect panoramas.

Every failure is an :class:`ImageInputError` with one clear sentence; nothing else escapes.
Decoded pixels are never stored in graph state: state keeps the path and the content hash, and
:func:`load_image` is cached by hash within a process.
"""

from __future__ import annotations

import hashlib
import io
import warnings
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError
from pydantic import BaseModel

MAX_FILE_BYTES = 200 * 1024 * 1024
MAX_PIXELS = 120_000_000  # about 11000 x 11000; a 30000 x 30000 image is refused
WORK_MAX_SIDE = 4096  # larger images are downscaled once at ingest (OCR works below this)
PANORAMA_RATIO = (1.9, 2.1)  # equirectangular panoramas are 2:1
PANORAMA_MIN_WIDTH = 1000

ImageFile.LOAD_TRUNCATED_IMAGES = False  # a truncated file is an error, not a grey half image

try:  # HEIC/HEIF from iPhones when the optional extra is installed
    from pillow_heif import register_heif_opener

    register_heif_opener()
except ImportError:  # the `heic` extra is not installed: HEIC files are reported unsupported
    pass


class ImageInputError(ValueError):
    """The input is not an image sinoloc can read; the message says why in one line."""


class GpsFix(BaseModel):
    lat: float
    lon: float
    altitude_m: float | None = None
    timestamp: str | None = None


class ImageMeta(BaseModel):
    """What the graph keeps about an image (JSON-serialisable, no pixels)."""

    path: str | None
    sha256: str
    width: int
    height: int
    format: str | None
    is_panorama: bool
    frames: int = 1
    scale: float = 1.0  # work image size / original size
    exif_gps: GpsFix | None = None


@dataclass(frozen=True)
class LoadedImage:
    meta: ImageMeta
    image: Image.Image  # RGB, orientation applied, at most WORK_MAX_SIDE on its long side


def _read_bytes(source: str | Path | bytes) -> tuple[bytes, str | None]:
    if isinstance(source, bytes | bytearray):
        data, path = bytes(source), None
    else:
        p = Path(source)
        if not p.exists():
            raise ImageInputError(f"{p}: no such file")
        if p.is_dir():
            raise ImageInputError(f"{p}: is a directory, not an image")
        size = p.stat().st_size
        if size > MAX_FILE_BYTES:
            raise ImageInputError(f"{p}: file is {size / 1e6:.0f} MB, over the 200 MB limit")
        try:
            data = p.read_bytes()
        except OSError as exc:
            raise ImageInputError(f"{p}: cannot read ({exc.strerror or exc})") from exc
        path = str(p)
    if not data:
        raise ImageInputError(f"{path or 'image bytes'}: empty file (0 bytes)")
    return data, path


def _rational(value) -> float:
    try:
        return float(value)
    except (TypeError, ZeroDivisionError):
        num, den = value
        return float(num) / float(den) if den else 0.0


def _dms(values, ref) -> float | None:
    try:
        deg, minutes, seconds = (_rational(v) for v in values)
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    decimal = deg + minutes / 60.0 + seconds / 3600.0
    if isinstance(ref, bytes):
        ref = ref.decode("ascii", "ignore")
    return -decimal if str(ref).strip().upper() in {"S", "W"} else decimal


def read_exif_gps(image: Image.Image) -> GpsFix | None:
    """The GPS fix in the EXIF GPS IFD, or None. Cameras and phones write WGS-84."""
    try:
        gps = image.getexif().get_ifd(0x8825)
    except Exception:
        return None
    if not gps or 2 not in gps or 4 not in gps:
        return None
    lat = _dms(gps.get(2), gps.get(1, "N"))
    lon = _dms(gps.get(4), gps.get(3, "E"))
    if lat is None or lon is None or not (-90 <= lat <= 90 and -180 <= lon <= 180):
        return None
    if lat == 0 and lon == 0:
        return None
    altitude = _rational(gps[6]) if 6 in gps else None
    stamp = gps.get(29)
    return GpsFix(lat=lat, lon=lon, altitude_m=altitude,
                  timestamp=str(stamp) if stamp else None)


def is_equirectangular(width: int, height: int) -> bool:
    ratio = width / max(height, 1)
    return PANORAMA_RATIO[0] <= ratio <= PANORAMA_RATIO[1] and width >= PANORAMA_MIN_WIDTH


def decode(data: bytes, label: str = "image") -> tuple[Image.Image, ImageMeta]:
    """Decode bytes into an oriented RGB work image and its metadata."""
    sha = hashlib.sha256(data).hexdigest()
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            img = Image.open(io.BytesIO(data))
        except UnidentifiedImageError as exc:
            raise ImageInputError(f"{label}: not an image file sinoloc can read "
                                  "(JPEG, PNG, WebP, GIF, BMP, TIFF; HEIC with sinoloc[heic])"
                                  ) from exc
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise ImageInputError(f"{label}: image too large to decode safely") from exc
        except OSError as exc:
            raise ImageInputError(f"{label}: cannot decode ({exc})") from exc
        width, height = img.size
        if width * height > MAX_PIXELS:
            raise ImageInputError(
                f"{label}: {width}x{height} is {width * height / 1e6:.0f} megapixels, over the "
                f"{MAX_PIXELS / 1e6:.0f} MP limit")
        if width < 16 or height < 16:
            raise ImageInputError(f"{label}: {width}x{height} is too small to locate")
        frames = getattr(img, "n_frames", 1)
        fmt = img.format
        try:
            gps = read_exif_gps(img)
            img.seek(0)
            # draft() lets JPEG decode at reduced scale: big photos cost a fraction to load.
            if fmt == "JPEG" and max(width, height) > 2 * WORK_MAX_SIDE:
                img.draft("RGB", (WORK_MAX_SIDE, WORK_MAX_SIDE))
            img.load()
            img = ImageOps.exif_transpose(img)
            img = img.convert("RGB")
        except (OSError, SyntaxError, ValueError, Image.DecompressionBombWarning) as exc:
            reason = str(exc) or exc.__class__.__name__
            raise ImageInputError(f"{label}: corrupt or truncated image ({reason})") from exc
    if max(img.size) > WORK_MAX_SIDE:
        img.thumbnail((WORK_MAX_SIDE, WORK_MAX_SIDE), Image.Resampling.LANCZOS)
    meta = ImageMeta(path=None, sha256=sha, width=img.width, height=img.height, format=fmt,
                     is_panorama=is_equirectangular(img.width, img.height), frames=frames,
                     scale=img.width / width, exif_gps=gps)
    return img, meta


@lru_cache(maxsize=8)
def _decode_cached(data: bytes, label: str) -> tuple[Image.Image, ImageMeta]:
    return decode(data, label)


def load_image(source: str | Path | bytes) -> LoadedImage:
    """Read and decode a path or bytes. Raises :class:`ImageInputError` with a clear reason."""
    data, path = _read_bytes(source)
    img, meta = _decode_cached(data, path or "image bytes")
    return LoadedImage(meta=meta.model_copy(update={"path": path}), image=img)


def crop(image: Image.Image, box: tuple[float, float, float, float],
         min_side: int = 320) -> Image.Image:
    """Crop ``box`` (x0, y0, x1, y1; fractions of the image when all are ≤ 1, else pixels) and
    upscale small crops so that text in them reaches OCR at a readable size."""
    x0, y0, x1, y1 = box
    if max(box) <= 1.0:
        x0, x1 = x0 * image.width, x1 * image.width
        y0, y1 = y0 * image.height, y1 * image.height
    x0, x1 = sorted((max(0, x0), min(image.width, x1)))
    y0, y1 = sorted((max(0, y0), min(image.height, y1)))
    if x1 - x0 < 4 or y1 - y0 < 4:
        raise ImageInputError(f"crop box {box} is empty inside a {image.width}x{image.height} image")
    region = image.crop((int(x0), int(y0), round(x1), round(y1)))
    short = min(region.size)
    if short < min_side:
        factor = min_side / short
        region = region.resize((round(region.width * factor), round(region.height * factor)),
                               Image.Resampling.BICUBIC)
    return region
