"""Population weighting of ambiguous clues and the town / village gazetteer (issue 18, 3 and 4)."""

import csv
import gzip

import numpy as np
import pytest

from sinoloc.tools.clues import ClueKind, extract_text_clues
from sinoloc.tools.clues.ambiguity import weight_by_population
from sinoloc.tools.clues.schema import RegionSupport
from sinoloc.tools.evidence import EvidenceKind, clue_to_evidence
from sinoloc.tools.fusion import fuse
from sinoloc.tools.places import build_data, population, towns
from sinoloc.tools.regions import Level


def place_clues(text):
    return [c for c in extract_text_clues(text) if c.kind is ClueKind.PLACE]


def located(text):
    """Clues that would move the belief (not POI queries or ignored text)."""
    return [c for c in extract_text_clues(text) if c.regions and c.strength > 0]


# ---------------------------------------------------------------- shipped data
def test_population_table_validates_and_covers_every_district(regions):
    table = population.load_population()
    assert {d.adcode for d in regions.districts} <= set(table)
    assert all(p.population > 0 and p.source for p in table.values())
    sourced = [p for p in table.values() if "jionlp" in p.source]
    assert len(sourced) >= 2800  # the rest carry the documented median fill
    assert {p.method for p in table.values() if "jionlp" not in p.source} == {"fill_national_median"}


def test_population_table_rejects_a_row_without_source(tmp_path):
    path = tmp_path / "district_population.csv"
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(population.COLUMNS)
        writer.writerow(["110101", "东城区", 10, 0, 73400, "code", "110101:东城区", ""])
    with pytest.raises(population.PopulationTableError, match="no source"):
        population.load_population.__wrapped__(path)


def test_district_weights_are_a_distribution_aligned_with_the_index(regions):
    weights = population.district_weights(regions)
    assert weights.shape == (len(regions.districts),)
    assert np.all(weights > 0) and weights.sum() == pytest.approx(1.0)
    assert population.district_weights(regions) is weights  # cached per index
    assert population.region_weight("310000", Level.PROVINCE) > population.region_weight(
        "640000", Level.PROVINCE)  # 上海 > 宁夏
    assert population.region_weight("999999", "district") == 0.0


def test_census_table_validates_and_sums_to_the_national_total():
    census = population.load_census_provinces()
    assert len(census) == 31 and all(a.endswith("0000") for a in census)
    # the bulletin's national total adds 2 000 000 servicemen to the 31 provinces; the build's
    # urban + rural constants come from another bulletin, so this checks the typed figures
    national = build_data.URBAN_POPULATION_2020 + build_data.RURAL_POPULATION_2020
    assert sum(census.values()) + 2_000_000 == national


def test_census_table_rejects_a_row_without_source(tmp_path):
    path = tmp_path / "census.csv"
    path.write_text("adcode,name,population_2020,source\n110000,北京市,21893095,\n", encoding="utf-8")
    with pytest.raises(population.PopulationTableError, match="no source"):
        population.load_census_provinces.__wrapped__(path)


def test_provincial_proxy_totals_are_within_a_factor_of_two_of_the_census(regions):
    """An independent check of the whole build (the census table is not one of its inputs): a
    wrong unit factor, a zone or a fill landing in the wrong province moves it off the census.
    Today's range is 0.59× (广东, migrants) to 1.82× (西藏, small villages): data/README.md."""
    proxy = population.proxy_population(regions)
    ratios = {adcode: float(proxy[regions.district_province == adcode].sum()) / census
              for adcode, census in population.load_census_provinces().items()}
    off = {a: round(r, 2) for a, r in ratios.items() if not 0.5 <= r <= 2.0}
    assert off == {}


def test_loaded_population_is_calibrated_to_each_provinces_census(regions):
    """The proxy spreads people inside a province; the census says how many live in it: 广东
    (0.59× as a raw proxy) holds its census total, and so outweighs 山东 (1.33×)."""
    census = population.load_census_provinces()
    for adcode, total in census.items():
        assert population.region_weight(adcode, Level.PROVINCE, regions) == pytest.approx(total)
    assert population.region_weight("440000", Level.PROVINCE, regions) > \
        population.region_weight("370000", Level.PROVINCE, regions)


def test_no_county_level_district_is_inflated(regions):
    """The largest county-level units of the 2020 census (昆山, 晋江) hold about 2.1 M; a 县, 旗 or
    county-level 市 far above that is a build error, not a big county."""
    values = population.proxy_population(regions)  # the build's output, before calibration
    counties = {d.name: v for d, v in zip(regions.districts, values, strict=True)
                if d.name.endswith(("县", "旗", "市"))}
    assert max(counties.values()) < 3.0e6
    table = population.load_population()
    assert table["371426"].population < 1.5e6  # 平原县: villages listed under their community
    assert table["371424"].population < 1.5e6  # 临邑县


@pytest.mark.parametrize(("town", "name", "times", "urban"), [
    ("新华街道", "光明社区", 1, True),
    ("虎门镇", "白沙社区", 1, True),
    ("柳林镇", "东街居委会", 1, True),
    ("三唐乡", "中兴社区", 6, False),  # a rural community listing its villages under its name
    ("桃园街道", "仇庄社区", 2, False),
    ("圈里乡", "圈里社区", 1, False),  # a township's seat is rural (NBS 乡中心区)
    ("巴彦苏木", "巴彦社区", 1, False),
    ("兵团一四三团", "一连生活区", 1, False),  # an XPCC company's living quarters
    ("恩城镇", "五里铺村", 1, False),
])
def test_urban_and_rural_units_are_read_from_the_name_and_its_township(town, name, times, urban):
    assert build_data.is_urban_unit(town, name, times) is urban


def test_a_county_counts_each_record_once():
    text = ("山东省\t370000\n\t德州市\t371400\n\t\t平原县\t371426\n\t\t\t三唐乡\n"
            + "\t\t\t\t中兴社区\n" * 3 + "\t\t\t桃园街道\n\t\t\t\t光明社区\n\t\t\t\t仇庄村\n")
    [county] = build_data.parse_location(text)
    assert (county.code, county.city_code) == ("371426", "371400")
    assert county.units() == (1, 4)


def test_town_table_validates(tmp_path):
    rows = towns.read_table()
    assert len(rows) > 40000
    assert {level for level, *_ in rows} <= {"district", "city", "province"}
    bad = tmp_path / "towns.csv.gz"
    with gzip.open(bad, "wt", encoding="utf-8") as f:
        f.write("level,adcode,town,villages\ndistrict,310114,华亭镇,北新村\n")
    with pytest.raises(towns.TownTableError, match="columns"):
        towns.read_table(bad)


def test_town_index_round_trips_through_the_cache(tmp_path):
    table = tmp_path / "towns.csv.gz"
    with gzip.open(table, "wt", encoding="utf-8") as f:
        f.write("level,adcode,town,villages,source\n"
                "district,310114,华亭镇,北新村|华旺社区,test\n"
                "district,350302,华亭镇,华亭社区,test\n")
    built = towns.load_towns(table, cache_dir=tmp_path)
    assert list(tmp_path.glob("towns-v*.npz"))
    cached = towns.load_towns(table, cache_dir=tmp_path)
    for gazetteer in (built, cached):
        hits = gazetteer.find("→ 华亭镇 北新村")
        assert [(h.text, h.kind) for h in hits] == [("华亭镇", towns.NameKind.TOWN),
                                                    ("北新村", towns.NameKind.VILLAGE)]
        assert set(hits[0].regions) == {("district", "310114"), ("district", "350302")}


# ---------------------------------------------------------------- town clues
@pytest.mark.parametrize(("text", "adcode"), [
    ("南翔镇", "310114"),  # 上海市嘉定区
    ("塘桥镇人民政府", "320582"),  # 苏州市张家港市
    ("马嵬街道办事处", "610481"),  # 咸阳市兴平市
])
def test_a_unique_town_names_its_county(text, adcode):
    [clue] = place_clues(text)
    assert [r.adcode for r in clue.regions] == [adcode]
    assert clue.regions[0].level == "district" and clue.strength >= 0.85
    evidence = clue_to_evidence(clue, "test")
    assert evidence.kind is EvidenceKind.OCR_ADDRESS


def test_an_ambiguous_town_name_is_split_by_population():
    [clue] = place_clues("华亭镇")  # 上海 嘉定区 and 莆田 城厢区
    weights = {r.adcode: r.weight for r in clue.regions}
    assert set(weights) == {"310114", "350302"}
    assert weights["310114"] == 1.0 and 0 < weights["350302"] < 1.0
    assert "ambiguous" in clue.detail and clue.strength < 0.85


def test_the_line_naming_a_city_picks_the_town_in_it():
    [clue] = place_clues("莆田市华亭镇")
    assert [r.adcode for r in clue.regions] == ["350302"]


def test_a_town_and_its_village_agree_on_one_county():
    [clue] = place_clues("华亭镇北新村")  # 北新村 alone exists in 21 counties
    assert [r.adcode for r in clue.regions] == ["310114"]
    assert place_clues("北新村") == []


@pytest.mark.parametrize("text", ["新村", "东村", "南街", "和平村", "城关镇", "→ 新村 2 km"])
def test_a_bare_common_village_or_town_name_is_not_a_clue(text):
    assert located(text) == []


def test_guide_sign_names_the_town():
    # with a distance the town is that far away (issue 28): a ring around it, not a place clue
    assert place_clues("→ 华亭镇 5 km") == []
    [ring] = [c for c in extract_text_clues("→ 华亭镇 5 km") if c.kind is ClueKind.GUIDE_SIGN]
    assert any("嘉定区华亭镇" in r.place for r in ring.rings)
    [bare] = place_clues("→ 南翔")  # the bare name counts on a guide sign only
    assert [r.adcode for r in bare.regions] == ["310114"]
    assert place_clues("南翔") == []


def test_an_admin_name_is_not_read_as_a_town():
    clues = extract_text_clues("嘉定区")
    assert [c.kind for c in clues] == [ClueKind.ADDRESS]  # not 嘉定 (a bare town in 江西)


# ---------------------------------------------------------------- population weighting
@pytest.mark.parametrize(("number", "capital"), [
    ("电话 029-88886666", "610100"),  # 西安 over 咸阳
    ("电话 0731-88886666", "430100"),  # 长沙 over 湘潭
    ("电话 028-88886666", "510100"),  # 成都 over 资阳, 眉山
    ("电话 024-88886666", "210100"),  # 沈阳 over 铁岭, 抚顺, 本溪
    ("电话 0898-66886666", "460100"),  # 海口 over 三亚
])
def test_capital_wins_a_shared_area_code(regions, number, capital):
    [clue] = [c for c in extract_text_clues(number) if c.kind is ClueKind.PHONE]
    assert len(clue.regions) >= 2 and capital in {r.adcode for r in clue.regions}
    belief = fuse([clue_to_evidence(clue, "test").model_copy(update={"id": "E1"})], regions)
    cities = belief.marginal(Level.CITY)
    assert max(cities, key=cities.get) == capital
    others = [cities[r.adcode] for r in clue.regions if r.adcode != capital]
    assert cities[capital] > 1.5 * max(others)


def test_a_single_region_clue_is_unchanged():
    [clue] = extract_text_clues("电话 0571-88886666")
    assert [(r.adcode, r.weight) for r in clue.regions] == [("330100", 1.0)]


def test_weighting_keeps_the_top_weight_and_the_background(regions):
    support = [RegionSupport(level="city", adcode="610100", name="西安", weight=0.6),
               RegionSupport(level="city", adcode="610400", name="咸阳", weight=0.6),
               RegionSupport(level="province", adcode="610000", name="陕西", weight=0.3)]
    out = {r.adcode: r.weight for r in weight_by_population(support, regions)}
    assert out["610100"] == pytest.approx(0.6)  # the denser alternative keeps the clue's weight
    assert 0.3 <= out["610400"] < 0.6  # never below the province behind it
    assert out["610000"] == 0.3
