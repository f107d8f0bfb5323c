"""The CLI end to end, as a user runs it (subprocesses on images the tests create)."""

import json
import subprocess
import sys

import pytest
from imaging import hangzhou_shop
from PIL import Image


def run(*args, timeout=180):
    return subprocess.run([sys.executable, "-m", "sinoloc.app.cli.main", *args],
                          capture_output=True, text=True, timeout=timeout)


def test_locate_json_and_map(tmp_path):
    path = tmp_path / "shop.jpg"
    hangzhou_shop(path)
    out = run("locate", str(path), "--json", "--top-k", "3", "--map", str(tmp_path / "m.html"))
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert (data["province"], data["city"], data["district"]) == ("浙江省", "杭州市", "西湖区")
    assert data["coordinate_system"] == "WGS-84" and len(data["candidates"]) == 3
    page = (tmp_path / "m.html").read_text(encoding="utf-8")
    assert "西湖区" in page
    # evidence on the photo: the lines' boxes in the JSON, the photo (downscaled) in the map file
    marks = data["photo_marks"]
    assert (marks["width"], marks["height"]) == (1200, 800)
    assert {m["status"] for m in marks["marks"]} == {"evidence"} and len(marks["marks"]) == 3
    assert "data:image/jpeg;base64," in page and '"span_id":"T1"' in page


def test_locate_demo_readable_output():
    out = run("locate", "--demo")
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("浙江省杭州市西湖区")
    assert "evidence:" in out.stdout and "E1" in out.stdout


def _bad_inputs(tmp_path):
    (tmp_path / "empty.jpg").write_bytes(b"")
    (tmp_path / "text.jpg").write_text("just some text, not a JPEG")
    full = tmp_path / "full.jpg"
    Image.new("RGB", (800, 600), (30, 90, 160)).save(full)
    data = full.read_bytes()
    (tmp_path / "cut.jpg").write_bytes(data[: len(data) // 2])
    Image.new("1", (30000, 30000)).save(tmp_path / "huge.png")
    return {"missing": tmp_path / "missing.jpg", "empty": tmp_path / "empty.jpg",
            "text": tmp_path / "text.jpg", "truncated": tmp_path / "cut.jpg",
            "huge": tmp_path / "huge.png"}


@pytest.mark.parametrize("case", ["missing", "empty", "text", "truncated", "huge"])
def test_bad_input_one_line_exit_2(tmp_path, case):
    path = _bad_inputs(tmp_path)[case]
    out = run("locate", str(path))
    assert out.returncode == 2, (out.stdout, out.stderr)
    lines = [line for line in out.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("sinoloc: ")
    assert "Traceback" not in out.stderr


@pytest.mark.slow
def test_valid_odd_images_are_answered(tmp_path):
    frames = [Image.new("RGB", (320, 240), (50 * i, 80, 120)) for i in range(3)]
    frames[0].save(tmp_path / "anim.gif", save_all=True, append_images=frames[1:])
    Image.new("CMYK", (320, 240), (10, 20, 30, 40)).save(tmp_path / "cmyk.jpg")
    for name in ("anim.gif", "cmyk.jpg"):
        out = run("locate", str(tmp_path / name), "--json")
        assert out.returncode == 0, out.stderr
        assert json.loads(out.stdout)["basis"] == "prior_only"


def test_usage_errors_exit_2():
    assert run("locate").returncode == 2
    assert run("locate", "--demo", "--top-k", "0").returncode == 2
