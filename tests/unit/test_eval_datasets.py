"""Datasets: CSV / JSONL, coordinate systems, derived labels, validation."""

import json

import pytest
from PIL import Image

from sinoloc.eval.datasets import DatasetError, load_dataset, validate
from sinoloc.tools import crs

TIANANMEN = (39.908722, 116.397499)  # WGS-84
WEST_LAKE = (30.2590, 120.1400)


def _image(path, colour=(120, 120, 120)):
    Image.new("RGB", (64, 48), colour).save(path)
    return path.name


def test_csv_with_derived_labels_notes_and_slice_columns(tmp_path, regions):
    _image(tmp_path / "a.jpg")
    (tmp_path / "set.csv").write_text(
        "file,lat,lon,cluster,notes\n"
        f"a.jpg,{TIANANMEN[0]},{TIANANMEN[1]},north,\"source=x; season=winter\"\n",
        encoding="utf-8")
    [item] = load_dataset(tmp_path / "set.csv", regions)
    assert item.id == "a" and item.image == str((tmp_path / "a.jpg").resolve())
    assert (item.truth.province, item.truth.city_adcode, item.truth.district) == (
        "北京市", "110100", "东城区")
    assert item.attributes == {"cluster": "north", "source": "x", "season": "winter"}
    assert item.usable and not item.problems


def test_jsonl_gcj02_and_bd09_points_are_converted_to_wgs84(tmp_path, regions):
    _image(tmp_path / "a.jpg")
    glon, glat = crs.wgs84_to_gcj02(WEST_LAKE[1], WEST_LAKE[0])
    blon, blat = crs.wgs84_to_bd09(WEST_LAKE[1], WEST_LAKE[0])
    lines = [{"id": "g", "image": "a.jpg", "lat": glat, "lng": glon, "crs": "GCJ-02"},
             {"id": "b", "path": "a.jpg", "latitude": blat, "longitude": blon,
              "coord_system": "bd09"},
             {"id": "w", "image": "a.jpg", "lat": WEST_LAKE[0], "lon": WEST_LAKE[1]}]
    (tmp_path / "set.jsonl").write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    items = load_dataset(tmp_path / "set.jsonl", regions)
    for item in items:
        assert item.truth.lat == pytest.approx(WEST_LAKE[0], abs=2e-5)
        assert item.truth.lon == pytest.approx(WEST_LAKE[1], abs=2e-5)
        assert item.truth.district == "西湖区"


def test_given_labels_win_and_disagreements_are_reported(tmp_path, regions):
    _image(tmp_path / "a.jpg")
    (tmp_path / "set.csv").write_text(
        "id,image,lat,lon,province,city,district\n"
        f"ok,a.jpg,{WEST_LAKE[0]},{WEST_LAKE[1]},330000,杭州市,\n"
        f"off,a.jpg,{WEST_LAKE[0]},{WEST_LAKE[1]},江苏省,,\n"
        f"junk,a.jpg,{WEST_LAKE[0]},{WEST_LAKE[1]},Atlantis,,\n", encoding="utf-8")
    ok, off, junk = load_dataset(tmp_path / "set.csv", regions)
    assert ok.truth.province == "浙江省" and ok.truth.district == "西湖区" and not ok.problems
    assert off.truth.province_adcode == "320000" and off.usable
    assert "disagrees" in off.problems[0].message
    assert junk.truth.province == "浙江省" and "not a known province" in junk.problems[0].message


def test_validation_finds_every_kind_of_bad_row(tmp_path, regions):
    _image(tmp_path / "a.jpg")
    _image(tmp_path / "same.jpg")  # identical pixels, same bytes
    _image(tmp_path / "b.jpg", colour=(1, 2, 3))
    (tmp_path / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    rows = [
        "id,image,lat,lon",
        f"a,a.jpg,{WEST_LAKE[0]},{WEST_LAKE[1]}",
        f"dup-content,same.jpg,{WEST_LAKE[0]},{WEST_LAKE[1]}",
        f"dup-file,a.jpg,{WEST_LAKE[0]},{WEST_LAKE[1]}",
        "paris,b.jpg,48.8566,2.3522",
        f"broken,broken.jpg,{WEST_LAKE[0]},{WEST_LAKE[1]}",
        f"missing,nope.jpg,{WEST_LAKE[0]},{WEST_LAKE[1]}",
        f"url,https://example.com/x.jpg,{WEST_LAKE[0]},{WEST_LAKE[1]}",
        "nolat,b.jpg,,120.1",
        f"a,b.jpg,{WEST_LAKE[0]},{WEST_LAKE[1]}",
        "sea,b.jpg,30.0,123.5",  # East China Sea, ~60 km off the coast
    ]
    (tmp_path / "set.csv").write_text("\n".join(rows) + "\n")
    items = load_dataset(tmp_path / "set.csv", regions)
    report = validate(items)
    by_id = {}
    for issue in report.issues:
        by_id.setdefault(issue.id, []).append((issue.severity, issue.message))
    assert any("outside China" in msg for _, msg in by_id["paris"])
    assert any("not an image" in msg for _, msg in by_id["broken"])
    assert any("missing" in msg for _, msg in by_id["missing"])
    assert any("URL" in msg for _, msg in by_id["url"])
    assert any("out of range" in msg for _, msg in by_id["nolat"])
    assert ("error", "id used by 2 rows") in by_id["a"]
    assert any("identical images" in msg for _, msg in by_id["a"])
    assert any("same image file" in msg for _, msg in by_id["a"])
    assert any("outside China" in msg for _, msg in by_id["sea"])
    assert report.rows == 10
    assert report.usable == 2  # dup-content and dup-file: warnings only


def test_unreadable_dataset_files(tmp_path, regions):
    with pytest.raises(DatasetError, match="no such dataset"):
        load_dataset(tmp_path / "nope.csv", regions)
    (tmp_path / "cols.csv").write_text("picture,lat,lon\nx.jpg,30,120\n")
    with pytest.raises(DatasetError, match="image column"):
        load_dataset(tmp_path / "cols.csv", regions)
    (tmp_path / "bad.jsonl").write_text('{"image": "a.jpg"\n')
    with pytest.raises(DatasetError, match="JSON"):
        load_dataset(tmp_path / "bad.jsonl", regions)
    (tmp_path / "empty.csv").write_text("image,lat,lon\n")
    with pytest.raises(DatasetError, match="no rows"):
        load_dataset(tmp_path / "empty.csv", regions)
