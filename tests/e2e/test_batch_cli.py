"""sinoloc locate on several images as a subprocess: real images to JSONL with exit 2 for a bad one;
argument errors before any heavy import."""

import json
import subprocess
import sys

import pytest
from imaging import hangzhou_shop


@pytest.mark.slow
def test_cli_batch_on_real_images_jsonl_and_exit_2(tmp_path):
    good = tmp_path / "shop.jpg"
    hangzhou_shop(good)
    (tmp_path / "broken.jpg").write_text("not an image")
    out = subprocess.run([sys.executable, "-m", "sinoloc.app.cli.main", "locate", str(good),
                          str(tmp_path / "broken.jpg"), "--json"],
                         capture_output=True, text=True, timeout=180)
    assert out.returncode == 2, out.stderr
    rows = [json.loads(line) for line in out.stdout.splitlines()]
    assert [r["file"] for r in rows] == [str(good), str(tmp_path / "broken.jpg")]
    assert rows[0]["district"] == "西湖区" and "error" not in rows[0]
    assert rows[0]["image"]["width"] == 1200  # GeoPrediction's own image field is intact
    assert "not an image" in rows[1]["error"]
    assert "1 of 2 image(s) failed" in out.stderr and "Traceback" not in out.stderr


@pytest.mark.parametrize("argv, message", [
    (["locate", "nope.jpg"], "nope.jpg: no such file or folder"),
    (["locate", "a.jpg", "b.jpg"], "a.jpg: no such file or folder"),
    (["locate", "--demo", "--top-k", "99"], "--top-k must be between 1 and 50"),
    (["locate", "--demo", "--workers", "0"], "--workers must be at least 1"),
])
def test_argument_errors_come_before_heavy_imports(tmp_path, argv, message):
    code = ("import sys; from sinoloc.app.cli.main import main; rc = main(sys.argv[1:]); "
            "heavy = [m for m in ('langgraph', 'rapidocr', 'onnxruntime', 'shapely') "
            "if m in sys.modules]; print(rc, heavy)")
    out = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True,
                         timeout=60, cwd=tmp_path)
    assert out.stdout.strip() == "2 []", (out.stdout, out.stderr)
    assert out.stderr.strip() == f"sinoloc: {message}"
