"""What the bytes of an image file say besides its pixels: its kind, its metadata blocks, its GPS fix.

The magic bytes name the kind (:func:`sniff_format`), before Pillow is asked to open anything.
Metadata blocks (JPEG APPn/COM segments, PNG text/EXIF/ICC chunks) beyond ``METADATA_CAP_BYTES``
in all are dropped before Pillow parses them (it takes seconds per 10 MB of them), keeping the
segments that carry orientation, GPS and the colour transform. :func:`read_exif_gps` reads the
EXIF GPS IFD of an opened image. :mod:`sinoloc.tools.images` decodes with all three.
"""

from __future__ import annotations

from PIL import Image
from pydantic import BaseModel

from sinoloc.tools.safe_files import HEAD_BYTES

METADATA_CAP_BYTES = 1024 * 1024  # EXIF + XMP + ICC + comments kept in all; the rest is skipped
_HEIF_BRANDS = (b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1", b"avif",
                b"avis")


class GpsFix(BaseModel):
    lat: float
    lon: float
    altitude_m: float | None = None
    timestamp: str | None = None


def sniff_format(head: bytes) -> str | None:
    """The image kind its first bytes announce (a key of ``images._PLUGINS``), or None."""
    if head.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "GIF"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WEBP"
    if head.startswith(b"BM"):
        return "BMP"
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return "TIFF"
    if head[4:8] == b"ftyp" and head[8:12] in _HEIF_BRANDS:
        return "HEIF"
    return None


# ---------------------------------------------------------------- metadata blocks
# the segments kept when the rest goes: JFIF, the first EXIF with a TIFF header, Adobe
_JPEG_KEEP = ((0xE0, b"JFIF\x00"), (0xE1, b"Exif\x00\x00II*\x00"), (0xE1, b"Exif\x00\x00MM\x00*"),
              (0xEE, b"Adobe"))
_PNG_METADATA = {b"tEXt", b"zTXt", b"iTXt", b"eXIf", b"iCCP"}


def _is_metadata(marker: int) -> bool:
    return 0xE0 <= marker <= 0xEF or marker == 0xFE  # APPn or COM


def _jpeg_segments(data: bytes) -> tuple[list[tuple[int, int, int]], int]:
    """The (marker, start, end) segments before the first scan, and where the rest begins."""
    pos, n = 2, len(data)
    segments: list[tuple[int, int, int]] = []
    while pos + 4 <= n and data[pos] == 0xFF:
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker == 0xDA or marker == 0xD9:  # start of scan / end of image: the rest as is
            break
        if marker == 0x01 or 0xD0 <= marker <= 0xD8:  # no length field
            segments.append((marker, pos, pos + 2))
            pos += 2
            continue
        end = pos + 2 + int.from_bytes(data[pos + 2:pos + 4], "big")
        segments.append((marker, pos, end))
        pos = end
    return segments, pos


def _jpeg_without_bulk_metadata(data: bytes) -> bytes:
    """JPEG bytes with APPn/COM segments dropped when they exceed ``METADATA_CAP_BYTES`` in all
    (the first JFIF, well-formed EXIF and Adobe segments, 64 KB at most each, are kept:
    orientation, GPS and the colour transform live there)."""
    segments, pos = _jpeg_segments(data)
    if sum(e - s for m, s, e in segments if _is_metadata(m)) <= METADATA_CAP_BYTES:
        return data
    kept, seen = [data[:2]], set()
    for marker, start, end in segments:
        if _is_metadata(marker):
            keep = next((k for k in _JPEG_KEEP if marker == k[0]
                         and data[start + 4:start + 4 + len(k[1])] == k[1]), None)
            if keep is None or keep[0] in seen:
                continue
            seen.add(keep[0])  # one of each: APP0, APP1 (EXIF), APP14
        kept.append(data[start:end])
    kept.append(data[pos:])
    return b"".join(kept)


def _png_without_bulk_metadata(data: bytes) -> bytes:
    """PNG bytes with text, EXIF and ICC chunks dropped when they exceed
    ``METADATA_CAP_BYTES`` in all (the first eXIf chunk is kept when it alone fits)."""
    pos, n = 8, len(data)
    chunks: list[tuple[bytes, int, int]] = []
    while pos + 12 <= n:
        kind = data[pos + 4:pos + 8]
        end = pos + 12 + int.from_bytes(data[pos:pos + 4], "big")
        chunks.append((kind, pos, end))
        pos = end
        if kind == b"IEND":
            break
    if sum(e - s for k, s, e in chunks if k in _PNG_METADATA) <= METADATA_CAP_BYTES:
        return data
    kept, exif_kept = [data[:8]], False
    for kind, start, end in chunks:
        if kind in _PNG_METADATA:
            if kind != b"eXIf" or exif_kept or end - start > METADATA_CAP_BYTES:
                continue
            exif_kept = True
        kept.append(data[start:end])
    kept.append(data[pos:])
    return b"".join(kept)


def without_bulk_metadata(data: bytes, kind: str | None = None) -> bytes:
    """``data`` as is, or without its metadata blocks when they exceed the cap (JPEG, PNG)."""
    kind = kind or sniff_format(data[:HEAD_BYTES])
    if kind == "JPEG":
        return _jpeg_without_bulk_metadata(data)
    if kind == "PNG":
        return _png_without_bulk_metadata(data)
    return data


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
