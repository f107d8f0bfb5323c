import io

import pytest
from PIL import Image

from sinoloc.tools.images import ImageInputError, crop, load_image
from sinoloc.tools.views import panorama_views, render_view


def _jpeg(size=(400, 300), mode="RGB", **save):
    buf = io.BytesIO()
    Image.new(mode, size, (200, 100, 50) if mode == "RGB" else (10, 20, 30, 40)).save(
        buf, "JPEG", **save)
    return buf.getvalue()


def _gps_exif(lat, lon):
    exif = Image.Exif()
    gps = {1: "N", 2: (30.0, 15.0, 36.0), 3: "E", 4: (120.0, 7.0, 48.0)}
    exif[0x8825] = gps
    return exif


def test_missing_empty_text_truncated(tmp_path):
    with pytest.raises(ImageInputError, match="no such file"):
        load_image(tmp_path / "nope.jpg")
    (tmp_path / "empty.jpg").write_bytes(b"")
    with pytest.raises(ImageInputError, match="empty"):
        load_image(tmp_path / "empty.jpg")
    (tmp_path / "text.jpg").write_text("hello, not an image")
    with pytest.raises(ImageInputError, match="not an image"):
        load_image(tmp_path / "text.jpg")
    data = _jpeg((800, 600))
    (tmp_path / "cut.jpg").write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageInputError, match=r"truncated|corrupt"):
        load_image(tmp_path / "cut.jpg")


def test_decompression_bomb_is_refused(tmp_path):
    path = tmp_path / "huge.png"
    Image.new("1", (30000, 30000)).save(path)
    with pytest.raises(ImageInputError, match=r"megapixels|too large"):
        load_image(path)


def test_cmyk_gif_and_orientation(tmp_path):
    (tmp_path / "cmyk.jpg").write_bytes(_jpeg(mode="CMYK"))
    assert load_image(tmp_path / "cmyk.jpg").image.mode == "RGB"
    frames = [Image.new("RGB", (200, 100), (80 * i, 40, 200 - 60 * i)) for i in range(3)]
    frames[0].save(tmp_path / "anim.gif", save_all=True, append_images=frames[1:])
    loaded = load_image(tmp_path / "anim.gif")
    assert loaded.meta.frames == 3 and loaded.image.size == (200, 100)
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° on display
    Image.new("RGB", (400, 200)).save(tmp_path / "rot.jpg", exif=exif)
    assert load_image(tmp_path / "rot.jpg").image.size == (200, 400)


def test_exif_gps_is_read(tmp_path):
    Image.new("RGB", (300, 200)).save(tmp_path / "gps.jpg", exif=_gps_exif(30.26, 120.13))
    gps = load_image(tmp_path / "gps.jpg").meta.exif_gps
    assert gps.lat == pytest.approx(30.26) and gps.lon == pytest.approx(120.13)


def test_panorama_detection_and_views():
    pano = Image.new("RGB", (2048, 1024), (10, 10, 10))
    pano.paste((250, 0, 0), (int(0.75 * 2048) - 20, 480, int(0.75 * 2048) + 20, 540))  # at 90°
    views = panorama_views(2048)
    assert [v.heading for v in views] == [0, 90, 180, 270]
    right = render_view(pano, views[1])
    centre = right.getpixel((right.width // 2, right.height // 2 - 20))  # pitched 5° down
    assert centre[0] > 200  # the red patch at heading 90 is in the middle of the 90° view


def test_crop_upscales_small_boxes():
    img = Image.new("RGB", (1000, 800))
    region = crop(img, (0.1, 0.1, 0.2, 0.15))
    assert min(region.size) >= 320
    with pytest.raises(ImageInputError):
        crop(img, (0.5, 0.5, 0.5, 0.5))
