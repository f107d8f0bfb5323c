"""The caches a first run builds (region index, town index, map outlines): the fast builders
give what a plain per-item reader gives, and every build says on stderr what it is doing."""

from __future__ import annotations

import gzip
import json
import sqlite3
from collections import defaultdict
from types import SimpleNamespace

import numpy as np
import shapely
import shapely.geometry

from sinoloc.agent.output import geometry as map_geometry
from sinoloc.tools.places import towns
from sinoloc.tools.regions.build import _rows, build, data_package, read_geometries


def _reference_read(root, rel_path):
    """What the builder did before it was vectorised: one json.load and shapely.shape per file."""
    doc = json.loads((root / "data" / "datasets" / rel_path).read_text(encoding="utf-8"))
    geom = shapely.geometry.shape(doc)
    if not geom.is_valid:
        geom = shapely.make_valid(geom)
    return str((doc.get("properties") or {}).get("adcode") or rel_path.rsplit("/", 1)[-1].split(".")[0]), geom


def test_boundaries_read_in_bulk_equal_a_per_file_reading_of_the_real_data():
    root, _ = data_package()
    paths = list(dict.fromkeys(row[3] for row in _rows(root)))
    sample = paths[:: max(1, len(paths) // 40)][:40]  # provinces, cities and districts alike
    codes, geoms = read_geometries(root, sample)
    for rel_path, code, geom in zip(sample, codes, geoms, strict=True):
        ref_code, ref_geom = _reference_read(root, rel_path)
        assert code == ref_code
        assert shapely.to_wkb(geom) == shapely.to_wkb(ref_geom), rel_path


def _cnmaps(root, units):
    datasets = root / "data" / "datasets"
    datasets.mkdir(parents=True)
    (root / "data" / "index").mkdir(parents=True)
    rows = []
    for (level, code, ring, props), names in units:
        doc = {"type": "Polygon", "coordinates": [ring]}
        if props:
            doc["properties"] = props
        (datasets / f"{code}.json").write_text(json.dumps(doc))
        rows.append((*names, f"{code}.json", level, "高德", "陆地"))
    with sqlite3.connect(root / "data" / "index" / "administrative.db") as con:
        con.execute("CREATE TABLE ADMINISTRATIVE (province, city, district, path, level, "
                    "source, kind)")
        con.executemany("INSERT INTO ADMINISTRATIVE VALUES (?, ?, ?, ?, ?, ?, ?)", rows)


def _square(lon, lat, size):
    return [[lon, lat], [lon + size, lat], [lon + size, lat + size], [lon, lat + size], [lon, lat]]


def test_region_build_makes_invalid_boundaries_valid_and_reads_adcodes_like_before(tmp_path):
    bowtie = [[120.0, 30.0], [120.2, 30.2], [120.2, 30.0], [120.0, 30.2], [120.0, 30.0]]
    _cnmaps(tmp_path, [
        (("省", "330000", _square(119.0, 29.0, 3.0), {"adcode": "330000"}), ("浙江省", None, None)),
        (("市", "330100", _square(119.5, 29.5, 1.5), {"adcode": "330100"}), ("浙江省", "杭州市", None)),
        (("区县", "330106", bowtie, {"adcode": "330106", "name": "西湖区"}),
         ("浙江省", "杭州市", "西湖区")),
        (("区县", "330105", _square(120.3, 30.3, 0.2), None), ("浙江省", "杭州市", "拱墅区")),
    ])
    records, wkb = build(tmp_path, progress=lambda done, total: None)
    districts = [r for r in records if r["level"] == "district"]
    assert [r["adcode"] for r in districts] == ["330106", "330105"]  # property, then file name
    for record, blob, rel_path in zip(districts, wkb, ["330106.json", "330105.json"], strict=True):
        _, ref = _reference_read(tmp_path, rel_path)
        geom = shapely.from_wkb(blob)
        assert geom.is_valid and shapely.to_wkb(geom) == shapely.to_wkb(ref)
        assert record["area_km2"] > 0


def _reference_town_index(rows):
    """The town index as a dict of sets (the builder before it was vectorised)."""
    entries: dict[tuple[str, int], set[int]] = defaultdict(set)
    region_ids: dict[tuple[str, str], int] = {}
    for level, adcode, name, villages in rows:
        rid = region_ids.setdefault((level, adcode), len(region_ids))
        if len(name) <= towns.MAX_NAME:
            entries[(name, int(towns.NameKind.TOWN))].add(rid)
        stem = towns.bare_name(name)
        if stem is not None:
            entries[(stem, int(towns.NameKind.TOWN_BARE))].add(rid)
        for v in villages:
            if 2 <= len(v) <= towns.MAX_NAME:
                entries[(v, int(towns.NameKind.VILLAGE))].add(rid)
    return [(name, kind, sorted(entries[(name, kind)])) for name, kind in sorted(entries)]


def test_town_index_equals_the_dict_of_sets_it_replaced():
    rows = [
        ("district", "310114", "华亭镇", ["北新村", "华旺社区", "北新村", "北"]),  # a repeat, a 1-char name
        ("district", "350302", "华亭镇", ["华亭", "华亭社区"]),  # a village named like a bare town
        ("district", "310114", "南翔镇", ["华亭社区"]),  # the same region again
        ("city", "441900", "东城街道", ["华亭镇", "一个名字长得超过十二个字符的村民委员会"]),
        ("province", "710000", "华亭镇", []),
    ]
    gazetteer = towns.TownGazetteer.from_rows(rows, "sha")
    got = [(str(gazetteer.names[i]), int(gazetteer.kinds[i]),
            gazetteer.postings[gazetteer.starts[i]:gazetteer.starts[i + 1]].tolist())
           for i in range(len(gazetteer.names))]
    assert got == _reference_town_index(rows)
    assert gazetteer.regions == [("district", "310114"), ("district", "350302"),
                                 ("city", "441900"), ("province", "710000")]


def test_the_real_town_table_indexes_like_the_reference():
    rows = towns.read_table()[::50]
    gazetteer = towns.TownGazetteer.from_rows(rows, "sha")
    reference = _reference_town_index(rows)
    assert gazetteer.names.tolist() == [name for name, _, _ in reference]
    assert gazetteer.kinds.tolist() == [kind for _, kind, _ in reference]
    assert gazetteer.postings.tolist() == [r for _, _, ids in reference for r in ids]


def test_the_town_index_build_says_so_on_stderr(tmp_path, capsys):
    table = tmp_path / "towns.csv.gz"
    with gzip.open(table, "wt", encoding="utf-8") as f:
        f.write("level,adcode,town,villages,source\ndistrict,310114,华亭镇,北新村|华旺社区,test\n")
    towns.load_towns(table, cache_dir=tmp_path)
    err = capsys.readouterr().err
    assert "building the town index (first run only)" in err and "3 towns and villages indexed" in err
    towns.load_towns(table, cache_dir=tmp_path)  # from the cache: silent
    assert capsys.readouterr().err == ""


def test_the_map_outline_build_says_so_on_stderr(regions, monkeypatch, capsys):
    import sinoloc.tools.regions.build as region_build

    root, _ = data_package()
    few = [row for row in _rows(root) if row[4] in ("省", "市")][:3]
    monkeypatch.setattr(region_build, "_rows", lambda _root: few)
    index = SimpleNamespace(districts=regions.districts[:2],
                            _polygons=np.asarray(regions._polygons[:2]))
    out = map_geometry.build_geometry(index)
    err = capsys.readouterr().err
    assert "building the map outlines (first run only)" in err and "5 outlines simplified" in err
    assert len(out["district"]) == 2 and sum(len(out[k]) for k in ("province", "city")) >= 2
