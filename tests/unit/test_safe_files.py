"""Files are opened safely everywhere and the limits are the documented ones: FIFOs and devices
refused at once by the CLI, ``eval validate`` and ``eval run``'s copy; a large non-image costs one
small read; the 120 MP pixel limit of the README; bulky metadata skipped quickly; chat thread ids
that cannot name files outside the current folder.

Checks that would hang or exhaust memory on a regression run in a subprocess with a timeout and
memory and file-size limits, so a regression fails instead of taking the machine down."""

from __future__ import annotations

import io
import struct
import sys
import time
import tracemalloc
import zlib
from pathlib import Path

import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
WEST_LAKE = (30.2590, 120.1390)


def test_eval_validate_reads_only_the_head_of_a_large_non_image(tmp_path, regions):
    from sinoloc.eval.datasets import load_dataset, validate

    big = tmp_path / "not-a-photo.jpg"
    with open(big, "wb") as handle:  # 150 MB (sparse), under the 200 MB file limit
        handle.truncate(150 * 1024 * 1024)
    (tmp_path / "set.csv").write_text(f"id,image,lat,lon\nbig,{big.name},{WEST_LAKE[0]},"
                                      f"{WEST_LAKE[1]}\n")
    items = load_dataset(tmp_path / "set.csv", regions)
    tracemalloc.start()
    try:
        report = validate(items)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert any("not an image" in i.message for i in report.issues)
    assert peak < 8 * 1024 * 1024, f"validate held {peak / 1e6:.0f} MB to refuse a non-image"


def test_a_file_over_the_size_limit_is_refused_from_its_size(tmp_path):
    from sinoloc.tools.images import ImageInputError, read_image_file

    big = tmp_path / "huge.jpg"
    with open(big, "wb") as handle:
        handle.write(b"\xff\xd8\xff\xe0")
        handle.truncate(1024 * 1024 * 1024)  # 1 GB sparse, JPEG magic
    start = time.perf_counter()
    with pytest.raises(ImageInputError, match="over the 200 MB limit"):
        read_image_file(big)
    assert time.perf_counter() - start < 0.1


# ------------------------------------------------------------------ the pixel limit
def _bilevel_png(side: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("1", (side, side)).save(buffer, format="PNG")
    return buffer.getvalue()


def test_pixel_limit_is_the_readmes_120_megapixels(tmp_path):
    from sinoloc.tools.images import ImageInputError, load_image

    assert "120-megapixel" in (ROOT / "README.md").read_text()
    accepted = tmp_path / "100mp.png"
    accepted.write_bytes(_bilevel_png(10_000))  # 100 MP: a few kB as a 1-bit PNG
    loaded = load_image(accepted)
    assert loaded.meta.width == 4096 and loaded.meta.scale == pytest.approx(0.4096)
    refused = tmp_path / "130mp.png"
    refused.write_bytes(_bilevel_png(11_402))  # 130 MP
    start = time.perf_counter()
    with pytest.raises(ImageInputError, match="120 MP limit"):
        load_image(refused)
    assert time.perf_counter() - start < 1.0  # from the header, before decoding


def test_upload_header_check_uses_the_same_limit():
    from sinoloc.tools.images import ImageInputError, probe_image

    header = probe_image(_bilevel_png(10_000))
    assert (header.format, header.width, header.height) == ("PNG", 10_000, 10_000)
    with pytest.raises(ImageInputError, match="120 MP limit"):
        probe_image(_bilevel_png(11_402))


# ------------------------------------------------------------------ bulky metadata
def _jpeg_with_gps() -> bytes:
    exif = Image.Exif()
    exif[0x8825] = {1: "N", 2: (30.0, 15.0, 36.0), 3: "E", 4: (120.0, 7.0, 48.0)}
    buffer = io.BytesIO()
    Image.new("RGB", (640, 480), (90, 120, 160)).save(buffer, format="JPEG", exif=exif)
    return buffer.getvalue()


def test_a_jpeg_with_tens_of_megabytes_of_metadata_is_read_quickly():
    from sinoloc.tools.images import load_image

    base = _jpeg_with_gps()
    exif_end = 2 + 2 + int.from_bytes(base[4:6], "big")  # SOI, then the APP1 Exif segment
    body = b"Exif\x00\x00" + b"x" * 65_000  # more EXIF segments: Pillow joins them, quadratically
    bulk = (b"\xff\xe1" + struct.pack(">H", len(body) + 2) + body) * 640  # ~42 MB
    data = base[:exif_end] + bulk + base[exif_end:]
    assert len(data) > 40_000_000
    start = time.perf_counter()
    loaded = load_image(data)
    seconds = time.perf_counter() - start
    assert seconds < 1.0, f"{seconds:.1f} s for a JPEG with {len(bulk) / 1e6:.0f} MB of EXIF"
    assert loaded.meta.exif_gps is not None  # the EXIF segment (GPS, orientation) is kept
    assert loaded.meta.exif_gps.lat == pytest.approx(30.26, abs=0.01)


def test_a_png_with_a_huge_text_chunk_is_read_without_it():
    from sinoloc.tools.image_metadata import METADATA_CAP_BYTES, without_bulk_metadata
    from sinoloc.tools.images import load_image

    buffer = io.BytesIO()
    Image.new("RGB", (640, 480), (90, 120, 160)).save(buffer, format="PNG")
    base = buffer.getvalue()
    text = b"Comment\x00" + b"y" * 40_000_000
    chunk = struct.pack(">I", len(text)) + b"tEXt" + text + struct.pack(
        ">I", zlib.crc32(b"tEXt" + text) & 0xFFFFFFFF)
    data = base[:33] + chunk + base[33:]  # after IHDR
    assert without_bulk_metadata(data) == base  # the text chunk is what goes, nothing else
    small = b"Comment\x00" + b"y" * (METADATA_CAP_BYTES // 2)
    small_chunk = struct.pack(">I", len(small)) + b"tEXt" + small + struct.pack(
        ">I", zlib.crc32(b"tEXt" + small) & 0xFFFFFFFF)
    under_cap = base[:33] + small_chunk + base[33:]
    assert without_bulk_metadata(under_cap) is under_cap  # under the cap: untouched
    start = time.perf_counter()
    loaded = load_image(data)
    assert time.perf_counter() - start < 1.0
    assert (loaded.meta.width, loaded.meta.height) == (640, 480)


# ------------------------------------------------------------------ chat thread ids
@pytest.mark.parametrize("thread_id", ["../../x", "../x", "a/b", ".hidden", "", "x" * 65,
                                       "trip 1", "a\\b", "名字", "x\x00y"])
def test_unsafe_thread_ids_are_refused(thread_id):
    from sinoloc.app.chat.threads import ThreadIdError, check_thread_id

    with pytest.raises(ThreadIdError, match="A-Z a-z 0-9"):
        check_thread_id(thread_id)


@pytest.mark.parametrize("thread_id", ["trip-1", "20261130-101112-ab12", "a.b_c-D", "x" * 64])
def test_safe_thread_ids_pass(thread_id):
    from sinoloc.app.chat.threads import check_thread_id

    assert check_thread_id(thread_id) == thread_id


def test_cli_chat_refuses_a_path_like_thread_id_before_anything_is_written(monkeypatch, capsys,
                                                                          tmp_path):
    from sinoloc.app.cli.main import main

    work = tmp_path / "a" / "b"
    work.mkdir(parents=True)
    monkeypatch.chdir(work)
    monkeypatch.setattr(sys, "stdin", io.StringIO("/map\n/quit\n"))
    code = main(["chat", "--thread", "../../x", "--db", str(tmp_path / "t.sqlite")])
    captured = capsys.readouterr()
    assert code == 2
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and "thread id" in lines[0] and "internal error" not in lines[0]
    assert not list(tmp_path.rglob("*.html")) and not (tmp_path / "t.sqlite").exists()
