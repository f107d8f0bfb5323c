"""Every form a caller hands an image in (path, bytes, PIL image, base64, data: URI) becomes a
local file the graph can reference by path.

Graph state never holds pixels or base64: bytes are written once to the image cache under their
SHA-256 (``<cache dir>/images/<sha>.<ext>``), so a checkpointed thread can be resumed later and
the same image given twice is stored once. Size limits are checked before anything is written.
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

from .images import MAX_FILE_BYTES, ImageInputError
from .regions.index import default_cache_dir

DATA_URI = re.compile(r"^data:(?P<mime>image/[\w.+-]+)?(?:;[\w=-]+)*;base64,", re.IGNORECASE)
BASE64_MIN_CHARS = 64  # shorter strings are paths, never base64 images
_BASE64_CHARS = re.compile(r"^[A-Za-z0-9+/_\-\s]+=*\s*$")
# magic bytes → file suffix (the decoder sniffs the format itself; the suffix is for people)
_MAGIC = ((b"\xff\xd8\xff", ".jpg"), (b"\x89PNG", ".png"), (b"GIF8", ".gif"),
          (b"RIFF", ".webp"), (b"BM", ".bmp"), (b"II*\x00", ".tif"), (b"MM\x00*", ".tif"))


def image_cache_dir() -> Path:
    return default_cache_dir() / "images"


def _suffix(data: bytes) -> str:
    return next((suffix for magic, suffix in _MAGIC if data.startswith(magic)), ".img")


def store_image_bytes(data: bytes, directory: Path | None = None) -> Path:
    """Write ``data`` to the image cache under its hash (once) and return the path."""
    if not data:
        raise ImageInputError("image bytes: empty (0 bytes)")
    if len(data) > MAX_FILE_BYTES:
        raise ImageInputError(f"image bytes: {len(data) / 1e6:.0f} MB, over the "
                              f"{MAX_FILE_BYTES / 1e6:.0f} MB limit")
    directory = directory or image_cache_dir()
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{hashlib.sha256(data).hexdigest()}{_suffix(data)}"
    if not path.exists():
        partial = path.with_name(f"{path.name}.{os.getpid()}.part")
        partial.write_bytes(data)
        os.replace(partial, path)  # atomic: a concurrent reader never sees half a file
    return path


def decode_base64_image(text: str) -> bytes:
    """The bytes of a data: URI or a bare base64 string (standard or URL-safe alphabet)."""
    match = DATA_URI.match(text)
    body = text[match.end():] if match else text
    body = re.sub(r"\s+", "", body)
    if len(body) * 3 // 4 > MAX_FILE_BYTES:
        raise ImageInputError(f"base64 image: over the {MAX_FILE_BYTES / 1e6:.0f} MB limit")
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
        Image = None
    if Image is not None and isinstance(source, Image.Image):
        buffer = io.BytesIO()
        image = source if source.mode in ("RGB", "L") else source.convert("RGB")
        image.save(buffer, format="PNG")  # lossless: what the caller holds is what is located
        return store_image_bytes(buffer.getvalue())
    raise ImageInputError(f"cannot read an image from a {type(source).__name__}: give a path, "
                          "bytes, a PIL image, base64 text or a data: URI")
