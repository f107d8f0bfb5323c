import numpy as np
import pytest

from sinoloc.tools.regions import Level
from sinoloc.tools.regions.names import aliases, short_name


@pytest.mark.parametrize("lon,lat,province,city,district", [
    (120.13, 30.26, "浙江省", "杭州市", "西湖区"),
    (116.41, 39.92, "北京市", "北京市", "东城区"),
    (87.62, 43.83, "新疆维吾尔自治区", "乌鲁木齐市", None),
    (91.13, 29.65, "西藏自治区", "拉萨市", None),
    (113.75, 23.02, "广东省", "东莞市", "东莞市"),
    (114.17, 22.32, "香港特别行政区", "香港特别行政区", None),
    (113.55, 22.19, "澳门特别行政区", "澳门特别行政区", None),
    (121.56, 25.04, "台湾省", "台湾省", "台湾省"),
    (106.55, 29.56, "重庆市", "重庆市", None),
])
def test_reverse_known_points(regions, lon, lat, province, city, district):
    found = regions.reverse(lon, lat)
    assert found is not None and found.level is Level.DISTRICT
    path = regions.admin_path(found)
    assert path.province == province and path.city == city
    if district:
        assert path.district == district
    assert path.district_adcode.startswith(path.province_adcode[:2])


def test_point_in_the_sea_is_nowhere(regions):
    assert regions.reverse(123.0, 30.0) is None  # East China Sea
    district, km = regions.nearest_district(122.5, 30.0)
    assert km > 5 and district.province_adcode in {"310000", "330000"}


def test_counts(regions):
    assert len(regions.provinces()) == 34
    assert len(regions.cities()) == 370
    assert len(regions.districts) == 2875


def test_name_lookup_aliases(regions):
    for name in ("杭州", "杭州市", "Hangzhou", "hangzhou"):
        assert [regions.label(r) for r in regions.lookup(name)] == ["浙江省杭州市"]
    for name in ("内蒙古", "内蒙古自治区", "Neimenggu"):
        assert regions.lookup(name, level="province")[0].adcode == "150000"
    assert regions.lookup("延边", level="city")[0].name == "延边朝鲜族自治州"


def test_ambiguous_names(regions):
    chaoyang = {regions.label(r) for r in regions.lookup("朝阳区")}
    assert chaoyang == {"北京市朝阳区", "吉林省长春市朝阳区"}
    assert len(regions.lookup("鼓楼区")) >= 4
    beijing = regions.get("110000")
    assert [regions.label(r) for r in regions.lookup("朝阳区", within=beijing)] == ["北京市朝阳区"]


def test_hierarchy_navigation(regions):
    xihu = regions.get("330106", "district")
    assert regions.city_of(xihu).name == "杭州市"
    assert regions.province_of(xihu).name == "浙江省"
    hangzhou = regions.parent(xihu)
    assert xihu in regions.children(hangzhou)
    assert len(regions.children(regions.get("330000"))) == 11
    assert regions.district_mask(hangzhou).sum() == len(regions.children(hangzhou))


def test_centroid_inside_and_area(regions):
    xihu = regions.get("330106", "district")
    assert regions.contains(xihu, xihu.lon, xihu.lat)
    assert 250 < xihu.area_km2 < 350  # 西湖区 is about 312 km²
    zhejiang = regions.get("330000")
    assert 95_000 < zhejiang.area_km2 < 115_000  # 浙江 is about 105,500 km²


def test_cities_without_districts(regions):
    for code in ("441900", "442000", "460400", "620200"):
        city = regions.get(code, "city")
        assert city.kind == "city_without_districts" or regions.get(code, "district") is not None
        assert regions.get(code, "district").city_adcode == code


def test_batched_reverse_matches_single(regions):
    rng = np.random.default_rng(0)
    lon, lat = rng.uniform(100, 122, 50), rng.uniform(22, 40, 50)
    batch = regions.locate_districts(lon, lat)
    for i in range(50):
        single = regions.reverse(lon[i], lat[i])
        assert (single.adcode if single else None) == (
            regions.districts[batch[i]].adcode if batch[i] >= 0 else None)


@pytest.mark.parametrize("name,level,short", [
    ("杭州市", "city", "杭州"), ("内蒙古自治区", "province", "内蒙古"),
    ("新疆维吾尔自治区", "province", "新疆"), ("延边朝鲜族自治州", "city", "延边"),
    ("石柱土家族自治县", "district", "石柱"), ("城区", "district", "城区"),
    ("香港特别行政区", "province", "香港"), ("神农架林区", "city", "神农架"),
])
def test_short_name(name, level, short):
    assert short_name(name, level) == short


def test_aliases_include_pinyin():
    assert "hangzhou" in aliases("杭州市", "city")
