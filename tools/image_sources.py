"""Every form a caller hands an image in (path, bytes, PIL image, base64, data: URI) becomes a
local file the graph can reference by path.

Graph state never holds pixels or base64: bytes are written once to the image cache under their
SHA-256 (``<cache dir>/images/<sha>.<ext>``), so a checkpointed thread can be resumed later and
the same image given twice is stored once. Bytes are checked as an image (magic bytes, size,
pixel count from the header) before anything is written, so a store never holds a non-image.
(A served graph's uploads have their own bounded store: tools/upload_store.py.)
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import os
import re
from pathlib import Path
from typing import Any

from sinoloc.tools.image_metadata import sniff_format
from sinoloc.tools.images import MAX_FILE_BYTES, ImageInputError, probe_image
from sinoloc.tools.regions.index import default_cache_dir
from sinoloc.tools.safe_files import MB

DATA_URI = re.compile(r"^data:(?P<mime>image/[\w.+-]+)?(?:;[\w=-]+)*;base64,", re.IGNORECASE)
BASE64_MIN_CHARS = 64  # shorter strings are paths, never base64 images
_BASE64_CHARS = re.compile(r"^[A-Za-z0-9+/_\-\s]+=*\s*$")
# sniffed kind → file suffix (the decoder sniffs the format itself; the suffix is for people)
_SUFFIX = {"JPEG": ".jpg", "PNG": ".png", "GIF": ".gif", "WEBP": ".webp", "BMP": ".bmp",
           "TIFF": ".tif", "HEIF": ".heic"}


def image_cache_dir() -> Path:
    return default_cache_dir() / "images"


def _suffix(data: bytes) -> str:
    return _SUFFIX.get(sniff_format(data[:64]) or "", ".img")


def store_image_bytes(data: bytes, directory: Path | None = None, *,
                      max_bytes: int | None = None, label: str = "image bytes") -> Path:
    """Check ``data`` as an image, then write it to the image cache under its hash (once) and
    return the path. Nothing is written for bytes that are not an image sinoloc accepts."""
    limit = MAX_FILE_BYTES if max_bytes is None else min(max_bytes, MAX_FILE_BYTES)
    if not data:
        raise ImageInputError(f"{label}: empty (0 bytes)")
    if len(data) > limit:
        raise ImageInputError(f"{label}: {len(data) / MB:.0f} MB, over the "
                              f"{limit / MB:.0f} MB limit")
    probe_image(data, label)  # magic bytes, pixels from the header: before anything is written
    directory = directory or image_cache_dir()
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{hashlib.sha256(data).hexdigest()}{_suffix(data)}"
    if path.exists():
        os.utime(path)  # in use again: the newest for pruning by age
    else:
        partial = path.with_name(f"{path.name}.{os.getpid()}.part")
        partial.write_bytes(data)
        os.replace(partial, path)  # atomic: a concurrent reader never sees half a file
    return path


def decode_base64_image(text: str, max_bytes: int | None = None) -> bytes:
    """The bytes of a data: URI or a bare base64 string (standard or URL-safe alphabet),
    refused before decoding when they would exceed ``max_bytes`` (default ``MAX_FILE_BYTES``)."""
    limit = MAX_FILE_BYTES if max_bytes is None else min(max_bytes, MAX_FILE_BYTES)
    match = DATA_URI.match(text)
    body = text[match.end():] if match else text
    body = re.sub(r"\s+", "", body)
    if len(body) * 3 // 4 > limit:
        raise ImageInputError(f"base64 image: over the {limit / MB:.0f} MB limit")
    try:
        if "-" in body or "_" in body:
            return base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
        return base64.b64decode(body + "=" * (-len(body) % 4), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ImageInputError(f"base64 image: not valid base64 ({exc})") from exc


def looks_like_base64(text: str) -> bool:
    return bool(DATA_URI.match(text)) or (
        len(text) >= BASE64_MIN_CHARS and "." not in text[-8:] and bool(_BASE64_CHARS.match(text)))


def image_to_path(source: Any) -> Path:
    """A local path for ``source``: a path as given (str or PathLike), or bytes / a PIL image /
    base64 text / a data: URI stored in the image cache. Raises :class:`ImageInputError`."""
    if isinstance(source, os.PathLike):
        return Path(source)
    if isinstance(source, bytes | bytearray | memoryview):
        return store_image_bytes(bytes(source))
    if isinstance(source, str):
        if looks_like_base64(source) and not Path(source[:255]).exists():
            return store_image_bytes(decode_base64_image(source))
        return Path(source)
    try:
        from PIL import Image
    except ImportError:  # pragma: no cover - Pillow is a core dependency
        pass
    else:
        if isinstance(source, Image.Image):
            buffer = io.BytesIO()
            image = source if source.mode in ("RGB", "L") else source.convert("RGB")
            image.save(buffer, format="PNG")  # lossless: what the caller holds is what is located
            return store_image_bytes(buffer.getvalue())
    raise ImageInputError(f"cannot read an image from a {type(source).__name__}: give a path, "
                          "bytes, a PIL image, base64 text or a data: URI")
