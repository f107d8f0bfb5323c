import numpy as np
import pytest

from sinoloc.tools import crs

# (wgs lon, wgs lat, gcj lon, gcj lat): reference pairs published with eviltransform and
# wandergis/coordTransform (the same values the map providers' converters give).
WGS_GCJ = [
    (121.5272106, 31.1774276, 121.531541859215, 31.17530398364597),  # Shanghai
    (113.912316, 22.543847, 113.9171764808363, 22.540796131694766),  # Shenzhen
    (116.377817, 39.911954, 116.38404722455657, 39.91334545536069),  # Beijing
    (128.543, 37.065, 128.54820547949757, 37.065651049489816),
]
GCJ_BD = [(128.543, 37.065, 128.54944656269413, 37.07113427883019)]


@pytest.mark.parametrize("wlon,wlat,glon,glat", WGS_GCJ)
def test_wgs_to_gcj_reference(wlon, wlat, glon, glat):
    assert crs.wgs84_to_gcj02(wlon, wlat) == pytest.approx((glon, glat), abs=1e-9)


@pytest.mark.parametrize("wlon,wlat,glon,glat", WGS_GCJ)
def test_gcj_to_wgs_is_exact_inverse(wlon, wlat, glon, glat):
    assert crs.gcj02_to_wgs84(glon, glat) == pytest.approx((wlon, wlat), abs=1e-8)


@pytest.mark.parametrize("glon,glat,blon,blat", GCJ_BD)
def test_gcj_bd_reference_and_inverse(glon, glat, blon, blat):
    assert crs.gcj02_to_bd09(glon, glat) == pytest.approx((blon, blat), abs=1e-9)
    assert crs.bd09_to_gcj02(blon, blat) == pytest.approx((glon, glat), abs=1e-8)


def test_bd09mc_tiananmen_reference():
    # Baidu's own projection puts 天安门 (BD-09 116.404, 39.915) at about (12958175, 4825923).
    x, y = crs.bd09_to_bd09mc(116.404, 39.915)
    assert x == pytest.approx(12958175, abs=5)
    assert y == pytest.approx(4825923, abs=5)
    assert crs.bd09mc_to_bd09(x, y) == pytest.approx((116.404, 39.915), abs=1e-6)


def test_identity_outside_china():
    for lon, lat in [(2.35, 48.85), (-74.0, 40.7), (151.2, -33.9)]:
        assert crs.wgs84_to_gcj02(lon, lat) == (lon, lat)
        assert crs.gcj02_to_wgs84(lon, lat) == (lon, lat)


def test_vectorised_roundtrip_all_systems():
    rng = np.random.default_rng(1)
    lon, lat = rng.uniform(74, 134, 500), rng.uniform(18, 53, 500)
    for system in crs.CRS:
        back = crs.to_wgs84(*crs.from_wgs84(lon, lat, system), system)
        # BD09MC is Baidu's polynomial fit: centimetres, not exact.
        tol = 1e-6 if system is crs.CRS.BD09MC else 1e-8
        assert np.allclose(back[0], lon, atol=tol) and np.allclose(back[1], lat, atol=tol)


def test_gcj_offset_is_hundreds_of_metres():
    glon, glat = crs.wgs84_to_gcj02(120.13, 30.26)
    assert 0.001 < abs(glon - 120.13) + abs(glat - 30.26) < 0.01


@pytest.mark.parametrize("text,expected", [
    ("WGS-84", crs.CRS.WGS84), ("gcj02", crs.CRS.GCJ02), ("GCJ-02 (Amap)", crs.CRS.GCJ02),
    ("bd-09", crs.CRS.BD09), ("BD09MC", crs.CRS.BD09MC), (None, crs.CRS.WGS84),
])
def test_parse(text, expected):
    assert crs.CRS.parse(text) is expected


def test_parse_rejects_unknown():
    with pytest.raises(ValueError):
        crs.CRS.parse("utm50n")
