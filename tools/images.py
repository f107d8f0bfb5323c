"""Image ingest: decode safely, orient, read EXIF GPS, detect panoramas.

Every failure is an :class:`ImageInputError` with one clear sentence; nothing else escapes.
Decoded pixels are never stored in graph state: state keeps the path and the content hash, and
:func:`load_image` is cached by hash within a process.

This is the one place that opens images, so the limits the README states hold here: files are
read through :mod:`.safe_files` (regular files only, at most ``MAX_FILE_BYTES``, the magic bytes
checked before the rest is read), the pixel limit is ``MAX_PIXELS`` (Pillow's own
decompression-bomb limit is set to it), read from the header before any pixel is decoded, and
metadata blocks (JPEG APPn/COM segments, PNG text/EXIF/ICC chunks) beyond ``METADATA_CAP_BYTES``
in all are dropped before Pillow parses them (it takes seconds per 10 MB of them). What the bytes
say besides the pixels (kind, metadata blocks, EXIF GPS) is read by :mod:`.image_metadata`.
"""

from __future__ import annotations

import hashlib
import io
import threading
import warnings
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError
from pydantic import BaseModel

from sinoloc.tools.image_metadata import GpsFix, read_exif_gps, sniff_format, without_bulk_metadata
from sinoloc.tools.safe_files import (
    HEAD_BYTES,
    MB,
    FileRefusedError,
    MissingFileError,
    copy_regular_file,
    read_regular_file,
)

MAX_FILE_BYTES = 200 * 1024 * 1024
MAX_PIXELS = 120_000_000  # about 11000 x 11000; a 30000 x 30000 image is refused
Image.MAX_IMAGE_PIXELS = MAX_PIXELS  # Pillow warns past it (an error here) and refuses at 2x
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


class MissingImageError(ImageInputError):
    """No file by the name given."""


def _refused(exc: FileRefusedError) -> ImageInputError:
    return (MissingImageError if isinstance(exc, MissingFileError) else ImageInputError)(str(exc))


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


SUPPORTED = "JPEG, PNG, WebP, GIF, BMP, TIFF; HEIC with sinoloc[heic]"
# the Pillow plugins each sniffed kind may be opened with (nothing else is tried)
_PLUGINS = {"JPEG": ["JPEG"], "PNG": ["PNG"], "GIF": ["GIF"], "WEBP": ["WEBP"], "BMP": ["BMP"],
            "TIFF": ["TIFF"], "HEIF": ["HEIF", "AVIF"]}


def _not_an_image(label: str) -> ImageInputError:
    return ImageInputError(f"{label}: not an image file sinoloc can read ({SUPPORTED})")


def _require_image_head(label: str):
    def check(head: bytes) -> None:
        if not head:
            raise ImageInputError(f"{label}: empty file (0 bytes)")
        if sniff_format(head) is None:
            raise _not_an_image(label)
    return check


def read_image_file(path: str | Path, *, label: str | None = None) -> bytes:
    """The bytes of an image file: a regular file of at most ``MAX_FILE_BYTES`` whose first
    bytes are an image's (a FIFO, a device or a 1 GB text file is refused after one stat or one
    small read). Raises :class:`ImageInputError`."""
    label = label if label is not None else str(path)
    try:
        return read_regular_file(path, MAX_FILE_BYTES, label=label,
                                 head_check=_require_image_head(label))
    except FileRefusedError as exc:
        raise _refused(exc) from exc


def copy_image_file(source: str | Path, target: str | Path, *, label: str | None = None) -> Path:
    """Copy an image file (checked as :func:`read_image_file` does) to ``target``."""
    label = label if label is not None else str(source)
    try:
        return copy_regular_file(source, target, MAX_FILE_BYTES, label=label,
                                 head_check=_require_image_head(label))
    except FileRefusedError as exc:
        raise _refused(exc) from exc


def _read_bytes(source: str | Path | bytes, label: str | None = None) -> tuple[bytes, str | None]:
    if isinstance(source, bytes | bytearray):
        data, path = bytes(source), None
    else:
        data, path = read_image_file(source, label=label), str(source)
    if not data:
        raise ImageInputError(f"{label or path or 'image bytes'}: empty file (0 bytes)")
    return data, path


def is_equirectangular(width: int, height: int) -> bool:
    ratio = width / max(height, 1)
    return PANORAMA_RATIO[0] <= ratio <= PANORAMA_RATIO[1] and width >= PANORAMA_MIN_WIDTH


class ImageHeader(BaseModel):
    """What an image's header says, read without decoding a pixel."""

    format: str
    width: int
    height: int


def _open_checked(data: bytes, label: str) -> Image.Image:
    """The image opened lazily (header only) after the magic-byte, metadata, pixel-count and
    minimum-size checks. Call inside a context that turns DecompressionBombWarning into an
    error."""
    kind = sniff_format(data[:HEAD_BYTES])
    if kind is None:
        raise _not_an_image(label)
    try:
        img = Image.open(io.BytesIO(without_bulk_metadata(data, kind)), formats=_PLUGINS[kind])
    except UnidentifiedImageError as exc:
        raise _not_an_image(label) from exc
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageInputError(f"{label}: image too large to decode safely (over the "
                              f"{MAX_PIXELS / 1e6:.0f} MP limit)") from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageInputError(f"{label}: cannot decode ({exc})") from exc
    width, height = img.size
    if width * height > MAX_PIXELS:
        raise ImageInputError(
            f"{label}: {width}x{height} is {width * height / 1e6:.0f} megapixels, over the "
            f"{MAX_PIXELS / 1e6:.0f} MP limit")
    if width < 16 or height < 16:
        raise ImageInputError(f"{label}: {width}x{height} is too small to locate")
    return img


def probe_image(data: bytes, label: str = "image") -> ImageHeader:
    """Check that ``data`` is an image sinoloc accepts (magic bytes, size, pixels from the
    header) without decoding it: uploads are checked so before anything is stored."""
    if not data:
        raise ImageInputError(f"{label}: empty (0 bytes)")
    if len(data) > MAX_FILE_BYTES:
        raise ImageInputError(f"{label}: {len(data) / MB:.0f} MB, over the "
                              f"{MAX_FILE_BYTES / MB:.0f} MB limit")
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        img = _open_checked(data, label)
    header = ImageHeader(format=img.format or "", width=img.width, height=img.height)
    img.close()
    return header


class PixelBudget:
    """How many pixels may be decoding at once in this process (a decode waits for room; one
    larger than the whole budget runs alone): six uploads of 120 MP each decode one after
    another instead of holding 6 × 360 MB of pixels together."""

    def __init__(self, pixels: int):
        self.pixels = pixels
        self._in_use = 0
        self._cond = threading.Condition()

    @contextmanager
    def hold(self, pixels: int) -> Iterator[None]:
        with self._cond:
            self._cond.wait_for(lambda: self._in_use == 0 or self._in_use + pixels <= self.pixels)
            self._in_use += pixels
        try:
            yield
        finally:
            with self._cond:
                self._in_use -= pixels
                self._cond.notify_all()


DECODE_BUDGET = PixelBudget(MAX_PIXELS)


def _decode_pixels(img: Image.Image, fmt: str | None, width: int, height: int) -> Image.Image:
    # draft() lets JPEG decode at reduced scale: big photos cost a fraction to load.
    if fmt == "JPEG" and max(width, height) > 2 * WORK_MAX_SIDE:
        img.draft("RGB", (WORK_MAX_SIDE, WORK_MAX_SIDE))
    img.load()
    factor = max(img.size) // WORK_MAX_SIDE  # the work image stays WORK_MAX_SIDE (thumbnail)
    if factor >= 2 and img.mode == "1":
        img = img.convert("L")
    if factor >= 2:  # shrink before the RGB copy: a 120 MP greyscale PNG never becomes 360 MB
        img = img.reduce(factor) if img.mode in ("L", "RGB", "RGBA", "LA", "I", "F") \
            else img.convert("RGBA" if "A" in img.mode or "transparency" in img.info
                             else "RGB").reduce(factor)
    img = ImageOps.exif_transpose(img)
    return img.convert("RGB")


def decode(data: bytes, label: str = "image") -> tuple[Image.Image, ImageMeta]:
    """Decode bytes into an oriented RGB work image and its metadata (within the process's
    :data:`DECODE_BUDGET` of pixels decoding at once)."""
    sha = hashlib.sha256(data).hexdigest()
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        img = _open_checked(data, label)
        width, height = img.size
        frames = getattr(img, "n_frames", 1)
        fmt = img.format
        try:
            gps = read_exif_gps(img)
            img.seek(0)
            with DECODE_BUDGET.hold(width * height):
                img = _decode_pixels(img, fmt, width, height)
        except (OSError, SyntaxError, ValueError, Image.DecompressionBombWarning) as exc:
            reason = str(exc) or exc.__class__.__name__
            raise ImageInputError(f"{label}: corrupt or truncated image ({reason})") from exc
    if max(img.size) > WORK_MAX_SIDE:
        img.thumbnail((WORK_MAX_SIDE, WORK_MAX_SIDE), Image.Resampling.LANCZOS)
    meta = ImageMeta(path=None, sha256=sha, width=img.width, height=img.height, format=fmt,
                     is_panorama=is_equirectangular(img.width, img.height), frames=frames,
                     scale=img.width / width, exif_gps=gps)
    return img, meta


# decoded images by content hash, one cache for every reader: a run decodes its image once
# (ingest) and every later reader (OCR, the visual prior, CLIP, the model's message builder) takes
# it from here by the hash the state holds, without reading the file again
_BY_HASH: OrderedDict[str, LoadedImage] = OrderedDict()
_BY_HASH_SIZE = 8
_BY_HASH_LOCK = threading.Lock()  # the CLI's warm-up thread reads ahead beside the graph


def load_image(source: str | Path | bytes, *, label: str | None = None) -> LoadedImage:
    """Read and decode a path or bytes. Raises :class:`ImageInputError` with a clear reason,
    naming ``label`` (default: the path) rather than the path when given. Bytes decoded before
    (the same content, from any path) come from the cache."""
    data, path = _read_bytes(source, label)
    sha = hashlib.sha256(data).hexdigest()
    with _BY_HASH_LOCK:
        cached = _BY_HASH.get(sha)
    if cached is None:
        img, meta = decode(data, label or path or "image bytes")
    else:
        img, meta = cached.image, cached.meta
    loaded = LoadedImage(meta=meta.model_copy(update={"path": path}), image=img)
    with _BY_HASH_LOCK:
        _BY_HASH[sha] = loaded
        _BY_HASH.move_to_end(sha)
        while len(_BY_HASH) > _BY_HASH_SIZE:
            _BY_HASH.popitem(last=False)
    return loaded


def run_image(path: str | Path, sha256: str | None) -> LoadedImage:
    """The image of a run: the one decoded at ingest, found by its content hash (``sha256``
    from the state's image metadata); read and decoded again only when it is not cached (a
    resumed thread in a new process), and then checked against the hash."""
    with _BY_HASH_LOCK:
        cached = _BY_HASH.get(sha256) if sha256 else None
    if cached is not None:
        return cached
    loaded = load_image(path)
    if sha256 and loaded.meta.sha256 != sha256:
        raise ImageInputError(f"{path}: the file changed since it was ingested")
    return loaded


def crop_geometry(width: int, height: int, box: tuple[float, float, float, float],
                  min_side: int = 320) -> tuple[tuple[int, int, int, int], float]:
    """Where :func:`crop` cuts ``box`` (x0, y0, x1, y1; fractions of the image when all are
    ≤ 1, else pixels) out of a ``width``×``height`` image: the pixel box (left, top, right,
    bottom) and the factor the crop is upscaled by (1 when it is large enough). A point (x, y)
    of the crop lies at (left + x / factor, top + y / factor) in the image."""
    x0, y0, x1, y1 = box
    if max(box) <= 1.0:
        x0, x1 = x0 * width, x1 * width
        y0, y1 = y0 * height, y1 * height
    x0, x1 = sorted((max(0, x0), min(width, x1)))
    y0, y1 = sorted((max(0, y0), min(height, y1)))
    if x1 - x0 < 4 or y1 - y0 < 4:
        raise ImageInputError(f"crop box {box} is empty inside a {width}x{height} image")
    pixels = (int(x0), int(y0), round(x1), round(y1))
    short = min(pixels[2] - pixels[0], pixels[3] - pixels[1])
    return pixels, (min_side / short if short < min_side else 1.0)


def crop(image: Image.Image, box: tuple[float, float, float, float],
         min_side: int = 320) -> Image.Image:
    """Crop ``box`` (x0, y0, x1, y1; fractions of the image when all are ≤ 1, else pixels) and
    upscale small crops so that text in them reaches OCR at a readable size."""
    pixels, factor = crop_geometry(image.width, image.height, box, min_side)
    region = image.crop(pixels)
    if factor != 1.0:
        region = region.resize((round(region.width * factor), round(region.height * factor)),
                               Image.Resampling.BICUBIC)
    return region
