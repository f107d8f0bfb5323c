"""The decision follows the belief: regions chosen top-down from its marginals, the point inside
the claimed district, candidates ranked by the same belief (the answer first among equals), and
a start by where people live that resolves ambiguity without overruling a clue."""

import numpy as np
import pytest

from sinoloc.agent.reasoning.answering import fused_answer
from sinoloc.agent.reasoning.prediction import build_prediction, ranked_regions
from sinoloc.tools.evidence import Evidence, EvidenceKind, RegionSupport
from sinoloc.tools.fusion import Belief, decide, fuse, population_start
from sinoloc.tools.knowledge import get_knowledge
from sinoloc.tools.regions import Level

TOL = 1e-12


def plate_evidence(prefix: str, index, i: int = 1) -> Evidence:
    """A plate read cleanly, supported as tools/clues/plates.py supports it: the registering
    cities at max(0.3, 1/n) and the province at 0.3; strength 0.7, confidence 0.85."""
    plate = get_knowledge().plates[prefix]
    share = 1.0 / len(plate.cities)
    regions = [RegionSupport(level="city", adcode=c.adcode, name=index.label(c),
                             weight=max(0.3, share)) for c in plate.cities]
    regions.append(RegionSupport(level="province", adcode=plate.province.adcode,
                                 name=plate.province.name, weight=0.3))
    return Evidence(id=f"E{i}", kind=EvidenceKind.PLATE, text=f"{prefix}12345", source="test",
                    regions=regions, weight=0.7, confidence=0.85)


def region_evidence(adcodes: list[str], level: str, weight: float, conf: float,
                    kind=EvidenceKind.PHONE, i: int = 1) -> Evidence:
    return Evidence(id=f"E{i}", kind=kind, text="/".join(adcodes), source="test", weight=weight,
                    confidence=conf, regions=[RegionSupport(level=level, adcode=a, name=a,
                                                            weight=1.0) for a in adcodes])


def assert_follows_belief(belief: Belief, decision) -> None:
    """No sibling of a claimed region holds more of the belief, and the point is inside."""
    index = belief.index
    district = index.get(decision.district_adcode, Level.DISTRICT)
    city, province = index.city_of(district), index.province_of(district)
    provinces, cities = belief.marginal(Level.PROVINCE), belief.marginal(Level.CITY)
    assert provinces[province.adcode] >= max(provinces.values()) - TOL
    siblings = {c: p for c, p in cities.items()
                if index.get(c, Level.CITY).province_adcode == province.adcode}
    assert cities[city.adcode] >= max(siblings.values()) - TOL
    in_city = belief.probs[index.district_mask(city)]
    assert belief.probs[index.district_position[district.adcode]] >= in_city.max() - TOL
    inside = index.reverse(decision.lon, decision.lat)
    assert inside is not None and inside.adcode == district.adcode
    assert decision.confidence_province == pytest.approx(belief.mass(province), abs=1e-4)
    assert decision.confidence_city == pytest.approx(belief.mass(city), abs=1e-4)
    assert decision.confidence_district == pytest.approx(belief.mass(district), abs=1e-4)


def random_beliefs(index, rng):
    n = len(index.districts)
    for alpha in (0.02, 0.2, 1.0, 5.0):  # from a few districts holding everything to near-flat
        for _ in range(5):
            yield Belief(index=index, probs=rng.dirichlet(np.full(n, alpha)), evidence_count=1)
    cities = index.cities()
    provinces = index.provinces()
    for _ in range(20):  # mass spread over whole regions: the case that used to go wrong
        probs = np.full(n, 1e-6)
        for _ in range(rng.integers(1, 4)):
            region = (provinces[rng.integers(len(provinces))] if rng.random() < 0.5
                      else cities[rng.integers(len(cities))])
            probs[index.district_mask(region)] += rng.random()
        yield Belief(index=index, probs=probs / probs.sum(), evidence_count=1)
    for _ in range(10):  # evidence through fusion, one to three region clues
        evidence = []
        for i in range(rng.integers(1, 4)):
            region = cities[rng.integers(len(cities))]
            evidence.append(region_evidence([region.adcode], "city", float(rng.uniform(0.55, 0.95)),
                                            float(rng.uniform(0.5, 1.0)), i=i + 1))
        yield fuse(evidence, index)


def test_answer_never_names_a_region_ranked_below_a_sibling(regions):
    rng = np.random.default_rng(20261130)
    count = 0
    for belief in random_beliefs(regions, rng):
        assert_follows_belief(belief, decide(belief, []))
        count += 1
    assert count == 50


def test_exact_ties_break_the_same_way_in_decision_and_candidates(regions):
    n = len(regions.districts)
    wuhan = regions.get("420100", Level.CITY)
    probs = np.where(regions.district_mask(wuhan), 1.0, 1e-9)  # every Wuhan district equal
    belief = Belief(index=regions, probs=probs / probs.sum(), evidence_count=1)
    decision = decide(belief, [])
    assert_follows_belief(belief, decision)
    assert belief.top_districts(3, preferred=decision.district_adcode)[0][0].adcode \
        == decision.district_adcode
    flat = Belief(index=regions, probs=np.full(n, 1.0 / n), evidence_count=0)
    flat_decision = decide(flat, [])
    assert_follows_belief(flat, flat_decision)
    assert flat.top_districts(1, preferred=flat_decision.district_adcode)[0][0].adcode \
        == flat_decision.district_adcode


def test_point_evidence_inside_the_claimed_district_sets_the_point(regions):
    from sinoloc.tools.evidence import PointSupport

    evidence = [region_evidence(["330100"], "city", 0.93, 0.95),
                Evidence(id="E2", kind=EvidenceKind.POI, text="poi", source="test",
                         point=PointSupport(lat=30.2592, lon=120.1303, radius_km=0.3), weight=0.9)]
    decision = decide(fuse(evidence, regions), evidence)
    assert (decision.lat, decision.lon) == (30.2592, 120.1303)  # E2's point
    assert regions.reverse(decision.lon, decision.lat).adcode == decision.district_adcode


@pytest.mark.parametrize("prefix,province,city", [
    ("琼A", "海南省", "海口市"), ("苏A", "江苏省", "南京市"), ("浙A", "浙江省", "杭州市"),
    ("湘A", "湖南省", "长沙市"), ("青A", "青海省", "西宁市"), ("宁A", "宁夏回族自治区", "银川市"),
    ("新A", "新疆维吾尔自治区", "乌鲁木齐市"),
])
def test_single_capital_plate_names_its_city_and_province(regions, prefix, province, city):
    evidence = [plate_evidence(prefix, regions)]
    belief = fuse(evidence, regions)
    answer, _, decision = fused_answer(evidence, regions)
    assert (answer.province, answer.city) == (province, city)
    assert_follows_belief(belief, decision)


def prediction(evidence, index, top_k=10):
    answer, _, _ = fused_answer(evidence, index)
    state = {"evidence": [e.model_dump(mode="json") for e in evidence],
             "answer": answer.model_dump(mode="json"), "request": {"top_k": top_k}}
    return build_prediction(state, index)


def test_wuhan_plate_answer_is_the_first_candidate(regions):
    """dev_0020: 鄂AD98103 alone used to answer 蔡甸区 with 江夏区 listed first, 武汉 at 17 %."""
    p = prediction([plate_evidence("鄂A", regions)], regions)
    assert (p.province, p.city) == ("湖北省", "武汉市")
    assert p.candidates[0].adcode == p.district_adcode
    assert p.province_candidates[0].adcode == p.province_adcode
    assert p.city_candidates[0].adcode == p.city_adcode
    assert p.confidence.city == p.city_candidates[0].probability.__round__(4)
    assert [c.probability for c in p.candidates] == sorted(
        (c.probability for c in p.candidates), reverse=True)


def test_no_evidence_answer_is_the_first_candidate_and_stays_prior_only(regions):
    p = prediction([], regions)
    assert p.basis == "prior_only"
    assert p.candidates[0].adcode == p.district_adcode and p.candidates[0].probability > 0
    assert p.province_candidates[0].adcode == p.province_adcode
    # the claimed city leads its province's cities in the ranking (a one-city province such as
    # 重庆 may hold more than it and rank above it: the list is by belief, the choice top-down)
    every_city = ranked_regions(fuse([], regions), Level.CITY, regions, k=1000,
                                preferred=p.city_adcode)
    in_province = [c.adcode for c in every_city
                   if regions.get(c.adcode, Level.CITY).province_adcode == p.province_adcode]
    assert in_province[0] == p.city_adcode
    assert regions.reverse(p.lon, p.lat).adcode == p.district_adcode


def test_no_evidence_starts_from_population_not_uniform(regions):
    belief = fuse([], regions)
    assert belief.evidence_count == 0 and belief.population_prior and not belief.visual_prior
    assert np.allclose(belief.probs, population_start(regions))
    assert belief.probs.max() / belief.probs.min() > 10  # not a uniform start
    # the start is positive everywhere: population never rules a district out
    assert belief.probs.min() > 0


@pytest.mark.parametrize("cities,expected", [
    (["610100", "610400"], "610100"),  # 029: 西安 and 咸阳 → 西安
])
def test_population_resolves_an_equal_weight_multi_city_code(regions, cities, expected):
    evidence = [region_evidence(cities, "city", 0.93, 0.95)]
    belief = fuse(evidence, regions)
    decision = decide(belief, evidence)
    assert regions.get(decision.district_adcode, Level.DISTRICT).city_adcode == expected
    assert_follows_belief(belief, decision)
    masses = {c: belief.mass(regions.get(c, Level.CITY)) for c in cities}
    # the code's own strength is kept: its cities together hold what they would from a flat start
    assert sum(masses.values()) > 0.5


def test_population_does_not_overrule_a_single_clue(regions):
    """Every plate prefix names its own province; a weak single-level district mention names its
    district, the least populous districts included."""
    for prefix, plate in get_knowledge().plates.items():
        decision = decide(fuse([plate_evidence(prefix, regions)], regions), [])
        district = regions.get(decision.district_adcode, Level.DISTRICT)
        assert district.province_adcode == plate.province.adcode, prefix
    start = population_start(regions)
    rng = np.random.default_rng(7)
    positions = set(np.argsort(start)[:15].tolist())
    positions |= set(rng.choice(len(regions.districts), 25, replace=False).tolist())
    for position in sorted(positions):
        target = regions.districts[position]
        evidence = [region_evidence([target.adcode], "district", 0.7, 0.7,
                                    kind=EvidenceKind.OCR_ADDRESS)]
        decision = decide(fuse(evidence, regions), evidence)
        assert decision.district_adcode == target.adcode, target.name


def flat_tier_mass(support_masks: list[np.ndarray], levels: list[float], lam: float, n: int):
    """The mass of each tier (districts supported alike) from a uniform start, item alone."""
    sizes = [int(m.sum()) for m in support_masks]
    raw = [size * (1 + (lam - 1) * level) for size, level in zip(sizes, levels, strict=True)]
    outside = n - sum(sizes)
    return [r / (sum(raw) + outside) for r in raw]


def test_a_clue_keeps_its_own_strength_under_the_population_start(regions):
    """A clue alone puts on each tier of its support what it put from a uniform start: the
    population only moves mass among places the clue supports alike."""
    n = len(regions.districts)
    for adcode in ("540100", "440300", "632200"):  # 拉萨, 深圳, 海北: sparse to dense
        city = regions.get(adcode, Level.CITY)
        mask = regions.district_mask(city)
        lam = (9.0 * (n - mask.sum()) / mask.sum()) ** 0.9
        belief = fuse([region_evidence([adcode], "city", 0.9, 0.9)], regions)
        assert belief.mass(city) == pytest.approx(flat_tier_mass([mask], [1.0], lam, n)[0])
    # a plate: its city fully, the rest of its province at 0.3
    wuhan, hubei = regions.get("420100", Level.CITY), regions.get("420000", Level.PROVINCE)
    inner = regions.district_mask(wuhan)
    ring = regions.district_mask(hubei) & ~inner
    covered = inner.sum() + 0.3 * ring.sum()
    lam = ((0.7 / 0.3) * (n - covered) / covered) ** 0.85
    expected = flat_tier_mass([inner, ring], [1.0, 0.3], lam, n)
    belief = fuse([plate_evidence("鄂A", regions)], regions)
    assert [belief.mass(wuhan), float(belief.probs[ring].sum())] == pytest.approx(expected)


def test_every_plate_prefix_names_one_of_its_own_cities(regions):
    """Read off a sign, each of the 406 prefixes of plates.csv names a city it is registered in
    (the rest of the province weighs 0.3 of the plate's cities together, not 0.3 per
    district: that let 冀C name 保定 and 云K 昆明)."""
    from sinoloc.tools.clues import extract_text_clues
    from sinoloc.tools.evidence import clue_to_evidence

    wrong = []
    for prefix, plate in get_knowledge().plates.items():
        clue = next(c for c in extract_text_clues(f"{prefix}·12345") if c.kind.value == "plate")
        item = clue_to_evidence(clue, "test").model_copy(update={"id": "E1"})
        decision = decide(fuse([item], regions), [item])
        city = regions.get(decision.district_adcode, Level.DISTRICT).city_adcode
        if city not in {c.adcode for c in plate.cities}:
            wrong.append(prefix)
    assert wrong == []
