"""The prior's pure parts: label space, distributions, the location split, class weights,
preprocessing recipes, zero-shot prompts, and the top-down decoding in torch."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest
from PIL import Image

from sinoloc.tools.prior.data import PriorExample, class_weights, location_groups, split_by_location
from sinoloc.tools.prior.distribution import Distribution, index_vector
from sinoloc.tools.prior.labels import LabelSpace
from sinoloc.tools.prior.preprocess import Preprocessing
from sinoloc.tools.regions import haversine_km

DISTRICTS = ["330106", "330102", "330203", "440111", "440106", "510104"]


@pytest.fixture(scope="module")
def space(regions):
    return LabelSpace.from_districts(DISTRICTS, regions)


def test_label_space_parents_follow_the_region_index(space, regions):
    assert space.provinces == ["330000", "440000", "510000"]
    assert space.cities == ["330100", "330200", "440100", "510100"]
    assert space.districts == sorted(DISTRICTS)
    for district, city in zip(space.districts, space.district_parent, strict=True):
        assert regions.get(district, "district").city_adcode == space.cities[city]
    assert space.encode("330106") == (0, 0, space.districts.index("330106"))
    assert space.encode("110101") is None
    assert LabelSpace.model_validate_json(space.model_dump_json()) == space


def test_label_space_refuses_broken_links_and_unknown_regions(regions):
    with pytest.raises(ValueError, match="parent"):
        LabelSpace(provinces=["330000"], cities=["330100"], city_parent=[0],
                   districts=["330106"], district_parent=[3])
    with pytest.raises(ValueError, match="every province needs a city"):
        LabelSpace(provinces=["330000", "440000"], cities=["330100"], city_parent=[0],
                   districts=["330106"], district_parent=[0])
    with pytest.raises(ValueError, match="unknown district"):
        LabelSpace.from_districts(["999999"], regions)
    stale = LabelSpace(provinces=["330000"], cities=["339900"], city_parent=[0],
                       districts=["330106"], district_parent=[0])
    with pytest.raises(ValueError, match=r"does not\s+know"):
        stale.check(regions)


def test_full_space_covers_every_district(regions):
    full = LabelSpace.full(regions)
    assert full.sizes == (34, 370, 2875)


def test_distribution_marginals_agree_and_decoding_follows_the_hierarchy(space, regions):
    rng = np.random.default_rng(0)
    for _ in range(20):
        dist = Distribution(rng.dirichlet(np.full(len(space.districts), 0.3)), space)
        assert dist.probs.sum() == pytest.approx(1.0)
        assert dist.province.sum() == pytest.approx(1.0)
        for p in range(len(space.provinces)):
            cities = [c for c, parent in enumerate(space.city_parent) if parent == p]
            assert dist.province[p] == pytest.approx(dist.city[cities].sum())
        p, c, d = dist.decode()
        assert space.city_parent[c] == p and space.district_parent[d] == c
        assert p == int(np.argmax(dist.province))
        result = dist.result(regions, k=3)
        chain = result.decoded
        assert [r.adcode for r in chain] == [space.provinces[p], space.cities[c],
                                            space.districts[d]]
        assert sum(result.district_probs.values()) <= 1.0 + 1e-6
        assert [r.probability for r in result.provinces] == sorted(
            (r.probability for r in result.provinces), reverse=True)


def test_decoding_is_greedy_top_down_not_the_best_district(space):
    # 浙江 holds 0.6 spread over three districts; 广东's single district holds 0.4
    probs = np.zeros(len(space.districts))
    for code in ("330102", "330106", "330203"):
        probs[space.districts.index(code)] = 0.2
    probs[space.districts.index("440111")] = 0.4
    dist = Distribution(probs, space)
    p, c, d = dist.decode()
    assert space.provinces[p] == "330000" and space.cities[c] == "330100"
    assert space.districts[d] in ("330102", "330106")


def test_index_vector_spreads_the_residual_and_never_reaches_zero(regions):
    vector = index_vector({"330106": 0.5, "440111": 0.3}, regions)
    assert vector.sum() == pytest.approx(1.0)
    assert vector[regions.district_position["330106"]] == pytest.approx(0.5, rel=1e-4)
    others = np.delete(vector, [regions.district_position[c] for c in ("330106", "440111")])
    assert np.allclose(others, 0.2 / len(others), rtol=1e-3)
    assert index_vector({"330106": 1.0}, regions).min() > 0


def _example(i: int, lat: float, lon: float, district: str = "330106") -> PriorExample:
    return PriorExample(id=f"x{i}", image=f"/nowhere/{i}.jpg", lat=lat, lon=lon,
                        province_adcode=district[:2] + "0000",
                        city_adcode=district[:4] + "00", district_adcode=district)


def test_location_groups_chain_nearby_points():
    # a street of captures 400 m apart is one group; a point 5 km away is another
    street = [_example(i, 30.25, 120.10 + i * 0.004) for i in range(5)]
    apart = [_example(9, 30.30, 120.10)]
    groups = location_groups(street + apart, gap_km=1.0)
    assert len(set(groups[:5])) == 1 and groups[5] != groups[0]
    # identical contents join whatever their coordinates
    twins = location_groups([_example(1, 30.0, 120.0), _example(2, 40.0, 116.0)], 1.0,
                            content_keys=["same", "same"])
    assert twins[0] == twins[1]


def test_location_groups_reach_far_enough_east_west_at_high_latitude():
    north = [_example(1, 53.0, 122.000), _example(2, 53.0, 122.012)]  # 0.8 km apart
    assert haversine_km(122.0, 53.0, 122.012, 53.0) < 1.0
    assert len(set(location_groups(north, gap_km=1.0))) == 1


def test_split_holds_out_whole_locations():
    rng = random.Random(1)
    examples = []
    for _site in range(30):
        lat, lon = 22 + rng.uniform(0, 20), 100 + rng.uniform(0, 20)
        examples += [_example(len(examples), lat + k * 0.002, lon) for k in range(3)]
    split = split_by_location(examples, validation_share=0.2, gap_km=1.0, seed=0)
    assert len(split.train) + len(split.validation) == len(examples)
    assert abs(len(split.validation) - 18) <= 3 and split.groups == 30
    by_id = {e.id: e for e in examples}
    closest = min(haversine_km(by_id[a].lon, by_id[a].lat, by_id[b].lon, by_id[b].lat)
                  for a in split.train for b in split.validation)
    assert closest >= 1.0
    again = split_by_location(examples, 0.2, 1.0, seed=0)
    assert again == split
    assert split_by_location(examples, 0.2, 1.0, seed=5) != split


def test_split_refuses_what_cannot_be_split():
    with pytest.raises(ValueError, match="at least 4"):
        split_by_location([_example(i, 30, 120 + i) for i in range(3)])
    same_spot = [_example(i, 30.0, 120.0 + i * 1e-4) for i in range(6)]
    with pytest.raises(ValueError, match="no location can"):
        split_by_location(same_spot, gap_km=1.0)


def test_class_weights_favour_rare_classes():
    weights = class_weights([0] * 90 + [1] * 10, classes=3, power=0.5)
    assert weights[1] > 1 > weights[0]
    assert weights[1] / weights[0] == pytest.approx(3.0)
    assert weights[2] == 1.0  # unseen: untouched
    assert np.allclose(class_weights([0] * 90 + [1] * 10, 2, power=0.0), 1.0)
    assert class_weights([0] * 10_000 + [1], 2, power=1.0).max() == 10.0  # clipped


def test_preprocessing_reads_the_backbones_recipe():
    convnext = Preprocessing.from_processor_config({
        "crop_pct": 0.875, "size": {"shortest_edge": 224}, "image_mean": [0.5, 0.5, 0.5],
        "image_std": [0.25, 0.25, 0.25]})
    assert (convnext.size, convnext.resize, convnext.mean) == (224, 256, (0.5, 0.5, 0.5))
    clip = Preprocessing.from_processor_config({
        "size": {"shortest_edge": 336}, "crop_size": {"height": 336, "width": 336}})
    assert (clip.size, clip.resize) == (336, 336)
    assert Preprocessing.from_processor_config({}, size=64).size == 64


def test_preprocessing_pixels():
    prep = Preprocessing(size=32, resize=40)
    photo = Image.new("RGB", (120, 60), (255, 0, 0))
    array = prep.array(photo)
    assert array.shape == (3, 32, 32) and array.dtype == np.float32
    assert array[0].mean() == pytest.approx((1 - 0.485) / 0.229, rel=1e-3)
    rng = random.Random(0)
    assert prep.train_array(photo, rng).shape == (3, 32, 32)
    pano = Image.new("RGB", (1000, 500), (0, 0, 255))
    views = prep.views(pano, is_panorama=True)
    assert len(views) == 4 and all(v.size == (40, 40) for v in views)
    # a 2:1 photo is seen whole, as two squares; a 4:3 one as itself (centre crop)
    left, right = prep.views(photo, is_panorama=False)
    assert left.size == right.size == (60, 60)
    assert left.getbbox() == (0, 0, 60, 60) and right.tobytes() == photo.crop(
        (60, 0, 120, 60)).tobytes()
    square = Image.new("RGB", (80, 60))
    assert prep.views(square, is_panorama=False) == [square]
    tall = Image.new("RGB", (50, 200))
    assert [v.size for v in prep.views(tall, False)] == [(50, 50)] * 3
    assert Preprocessing(photo_max_views=1).views(photo, False) == [photo]
    assert prep.random_view(pano, True, rng).size == (40, 40)


def test_zero_shot_prompts_name_every_region(regions):
    from sinoloc.tools.prior.zero_shot import province_names_en, region_prompts, romanise

    names = province_names_en()
    assert names["610000"] == "Shaanxi" and names["140000"] == "Shanxi"
    assert romanise("杭州") == "Hangzhou" and romanise("重庆") == "Chongqing"
    full = LabelSpace.full(regions)
    by_province, by_city = region_prompts(full, regions)
    assert len(by_province) == 34 and len(by_city) == 370
    hangzhou = by_city[full.cities.index("330100")]
    assert "A street view photo in 浙江省杭州市." in hangzhou
    assert any("Hangzhou, Zhejiang, China" in p for p in hangzhou)
    beijing = by_city[full.cities.index("110100")]
    assert "A street view photo in 北京市." in beijing
    assert not any("Beijing, Beijing" in p for p in beijing)


def test_conditional_log_softmax_normalises_within_each_parent():
    torch = pytest.importorskip("torch")
    from sinoloc.tools.prior.model import conditional_log_softmax

    logits = torch.randn(5, 7, dtype=torch.float64) * 30
    parent = torch.tensor([0, 0, 1, 2, 2, 2, 1])
    out = conditional_log_softmax(logits, parent, groups=3)
    for g in range(3):
        columns = (parent == g).nonzero().flatten()
        assert torch.allclose(out[:, columns].exp().sum(dim=1), torch.ones(5, dtype=torch.float64))
        expected = torch.log_softmax(logits[:, columns], dim=1)
        assert torch.allclose(out[:, columns], expected)


def test_heads_give_one_joint_distribution(space):
    torch = pytest.importorskip("torch")
    from sinoloc.tools.prior.model import HierarchicalHeads

    torch.manual_seed(0)
    heads = HierarchicalHeads(8, space).double().requires_grad_(False)
    features = torch.randn(4, 8, dtype=torch.float64)
    joint = heads.log_joint(features)
    assert torch.allclose(joint.exp().sum(dim=1), torch.ones(4, dtype=torch.float64))
    province, city, district = heads(features)
    i = space.districts.index("330106")
    p, c, _ = space.encode("330106")
    assert float(joint[0, i]) == pytest.approx(float(province[0, p] + city[0, c] + district[0, i]))
    # a higher temperature flattens every level's (conditional) distribution
    hot = heads(features, temperature=10.0)
    cold = heads(features, temperature=1.0)
    for level_hot, level_cold in zip(hot, cold, strict=True):
        spread = lambda lp: float(lp.max() - lp.min())  # noqa: E731
        assert spread(level_hot[0]) < spread(level_cold[0])
    assert math.isclose(float(heads.log_joint(features, 10.0).exp().sum()), 4.0, rel_tol=1e-9)


def test_ordered_map_keeps_order_and_bounds_what_is_in_flight():
    import threading
    import time

    from sinoloc.tools.prior.loader import ordered_map

    started, lock = [], threading.Lock()

    def slow(i: int) -> int:
        with lock:
            started.append(i)
        time.sleep(0.002 * (i % 3))
        return i * i

    consumed = []
    for value in ordered_map(slow, range(40), workers=4, window=5):
        consumed.append(value)
        with lock:
            assert len(started) <= len(consumed) + 5  # never more than the window ahead
    assert consumed == [i * i for i in range(40)]
    assert list(ordered_map(slow, range(5), workers=1)) == [0, 1, 4, 9, 16]
