"""Chinese coordinate reference systems: WGS-84, GCJ-02 (Amap, Tencent), BD-09 (Baidu) and
Baidu Mercator (BD09MC).

Inside sinoloc every coordinate is WGS-84; these functions are used only at the adapters that
talk to a source in another system. All functions take and return ``(lon, lat)`` and accept
scalars or numpy arrays. Points outside mainland China are returned unchanged by the GCJ-02
transforms (the offset is only applied inside China), which keeps forward and inverse exact
inverses of each other everywhere.

GCJ-02 → WGS-84 and BD-09 → GCJ-02 have no closed form: they are solved by fixed-point
iteration to better than 1e-9 degrees (about 0.1 mm).
"""

from __future__ import annotations

from enum import Enum

import numpy as np

_A = 6378245.0  # Krasovsky 1940 semi-major axis used by GCJ-02
_EE = 0.00669342162296594323  # its first eccentricity squared
_X_PI = np.pi * 3000.0 / 180.0

# Baidu Mercator band tables, published in Baidu Maps' JavaScript API (BMap.MercatorProjection).
_MCBAND = (12890594.86, 8362377.87, 5591021.0, 3481989.83, 1678043.12, 0.0)
_LLBAND = (75.0, 60.0, 45.0, 30.0, 15.0, 0.0)
_MC2LL = (
    (1.410526172116255e-8, 0.00000898305509648872, -1.9939833816331, 200.9824383106796,
     -187.2403703815547, 91.6087516669843, -23.38765649603339, 2.57121317296198,
     -0.03801003308653, 17337981.2),
    (-7.435856389565537e-9, 0.000008983055097726239, -0.78625201886289, 96.32687599759846,
     -1.85204757529826, -59.36935905485877, 47.40033549296737, -16.50741931063887,
     2.28786674699375, 10260144.86),
    (-3.030883460898826e-8, 0.00000898305509983578, 0.30071316287616, 59.74293618442277,
     7.357984074871, -25.38371002664745, 13.45380521110908, -3.29883767235584,
     0.32710905363475, 6856817.37),
    (-1.981981304930552e-8, 0.000008983055099779535, 0.03278182852591, 40.31678527705744,
     0.65659298677277, -4.44255534477492, 0.85341911805263, 0.12923347998204,
     -0.04625736007561, 4482777.06),
    (3.09191371068437e-9, 0.000008983055096812155, 0.00006995724062, 23.10934304144901,
     -0.00023663490511, -0.6321817810242, -0.00663494467273, 0.03430082397953,
     -0.00466043876332, 2555164.4),
    (2.890871144776878e-9, 0.000008983055095805407, -3.068298e-8, 7.47137025468032,
     -0.00000353937994, -0.02145144861037, -0.00001234426596, 0.00010322952773,
     -0.00000323890364, 826088.5),
)
_LL2MC = (
    (-0.0015702102444, 111320.7020616939, 1704480524535203.0, -10338987376042340.0,
     26112667856603880.0, -35149669176653700.0, 26595700718403920.0, -10725012454188240.0,
     1800819912950474.0, 82.5),
    (0.0008277824516172526, 111320.7020463578, 647795574.6671607, -4082003173.641316,
     10774905663.51142, -15171875531.51559, 12053065338.62167, -5124939663.577472,
     913311935.9512032, 67.5),
    (0.00337398766765, 111320.7020202162, 4481351.045890365, -23393751.19931662,
     79682215.47186455, -115964993.2797253, 97236711.15602145, -43661946.33752821,
     8477230.501135234, 52.5),
    (0.00220636496208, 111320.7020209128, 51751.86112841131, 3796837.749470245,
     992013.7397791013, -1221952.21711287, 1340652.697009075, -620943.6990984312,
     144416.9293806241, 37.5),
    (-0.0003441963504368392, 111320.7020576856, 278.2353980772752, 2485758.690035394,
     6070.750963243378, 54821.18345352118, 9540.606633304236, -2710.55326746645,
     1405.483844121726, 22.5),
    (-0.0003218135878613132, 111320.7020701615, 0.00369383431289, 823725.6402795718,
     0.46104986909093, 2351.343141331292, 1.58060784298199, 8.77738589078284,
     0.37238884252424, 7.45),
)

_TOLERANCE_DEG = 1e-10
_MAX_ITER = 30


class CRS(str, Enum):
    """Coordinate systems a source may answer in."""

    WGS84 = "wgs84"
    GCJ02 = "gcj02"
    BD09 = "bd09"
    BD09MC = "bd09mc"

    @classmethod
    def parse(cls, text: CRS | str | None) -> CRS:
        """Parse a user-facing name (``WGS-84``, ``gcj02``, ``bd-09``, ``BD09MC``…)."""
        if isinstance(text, cls):
            return text
        if text is None or not str(text).strip():
            return cls.WGS84
        key = str(text).strip().lower().replace("-", "").replace("_", "").replace(" ", "")
        key = key.split("(")[0]
        for member in cls:
            if key == member.value:
                return member
        raise ValueError(f"unknown coordinate system {text!r}: use wgs84, gcj02, bd09 or bd09mc")


def _as_array(lon, lat):
    return np.asarray(lon, dtype=np.float64), np.asarray(lat, dtype=np.float64)


def _ret(lon, lat, scalar: bool):
    if scalar:
        return float(lon), float(lat)
    return lon, lat


def in_mainland_bbox(lon, lat):
    """The rectangle inside which GCJ-02 applies its offset (the convention every public
    implementation and the map providers' own SDKs use)."""
    lon, lat = _as_array(lon, lat)
    return (lon >= 72.004) & (lon <= 137.8347) & (lat >= 0.8293) & (lat <= 55.8271)


def _gcj_delta(lon, lat):
    x = lon - 105.0
    y = lat - 35.0
    dlat = (-100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * np.sqrt(np.abs(x))
            + (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
            + (20.0 * np.sin(y * np.pi) + 40.0 * np.sin(y / 3.0 * np.pi)) * 2.0 / 3.0
            + (160.0 * np.sin(y / 12.0 * np.pi) + 320 * np.sin(y * np.pi / 30.0)) * 2.0 / 3.0)
    dlon = (300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * np.sqrt(np.abs(x))
            + (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
            + (20.0 * np.sin(x * np.pi) + 40.0 * np.sin(x / 3.0 * np.pi)) * 2.0 / 3.0
            + (150.0 * np.sin(x / 12.0 * np.pi) + 300.0 * np.sin(x / 30.0 * np.pi)) * 2.0 / 3.0)
    radlat = lat / 180.0 * np.pi
    magic = 1 - _EE * np.sin(radlat) ** 2
    sqrtmagic = np.sqrt(magic)
    dlat = (dlat * 180.0) / ((_A * (1 - _EE)) / (magic * sqrtmagic) * np.pi)
    dlon = (dlon * 180.0) / (_A / sqrtmagic * np.cos(radlat) * np.pi)
    return dlon, dlat


def wgs84_to_gcj02(lon, lat):
    scalar = np.ndim(lon) == 0 and np.ndim(lat) == 0
    lon, lat = _as_array(lon, lat)
    dlon, dlat = _gcj_delta(lon, lat)
    inside = in_mainland_bbox(lon, lat)
    return _ret(np.where(inside, lon + dlon, lon), np.where(inside, lat + dlat, lat), scalar)


def _invert(forward, target_lon, target_lat, lon, lat) -> tuple[np.ndarray, np.ndarray]:
    """Solve ``forward(lon, lat) == target`` by fixed-point iteration from a first guess (the
    offsets are small and smooth, so this converges to < 1e-10° in a few steps)."""
    for _ in range(_MAX_ITER):
        flon, flat = forward(lon, lat)
        elon, elat = np.asarray(flon) - target_lon, np.asarray(flat) - target_lat
        lon, lat = lon - elon, lat - elat
        if np.all(np.abs(elon) < _TOLERANCE_DEG) and np.all(np.abs(elat) < _TOLERANCE_DEG):
            break
    return lon, lat


def gcj02_to_wgs84(lon, lat):
    """Exact inverse of :func:`wgs84_to_gcj02` by fixed-point iteration."""
    scalar = np.ndim(lon) == 0 and np.ndim(lat) == 0
    glon, glat = _as_array(lon, lat)
    return _ret(*_invert(wgs84_to_gcj02, glon, glat, glon.copy(), glat.copy()), scalar)


def gcj02_to_bd09(lon, lat):
    scalar = np.ndim(lon) == 0 and np.ndim(lat) == 0
    lon, lat = _as_array(lon, lat)
    z = np.sqrt(lon * lon + lat * lat) + 0.00002 * np.sin(lat * _X_PI)
    theta = np.arctan2(lat, lon) + 0.000003 * np.cos(lon * _X_PI)
    return _ret(z * np.cos(theta) + 0.0065, z * np.sin(theta) + 0.006, scalar)


def bd09_to_gcj02(lon, lat):
    """Exact inverse of :func:`gcj02_to_bd09` (the usual closed formula, refined iteratively)."""
    scalar = np.ndim(lon) == 0 and np.ndim(lat) == 0
    blon, blat = _as_array(lon, lat)
    x, y = blon - 0.0065, blat - 0.006
    z = np.sqrt(x * x + y * y) - 0.00002 * np.sin(y * _X_PI)
    theta = np.arctan2(y, x) - 0.000003 * np.cos(x * _X_PI)
    guess = (z * np.cos(theta), z * np.sin(theta))
    return _ret(*_invert(gcj02_to_bd09, blon, blat, *guess), scalar)


def wgs84_to_bd09(lon, lat):
    return gcj02_to_bd09(*wgs84_to_gcj02(lon, lat))


def bd09_to_wgs84(lon, lat):
    return gcj02_to_wgs84(*bd09_to_gcj02(lon, lat))


def _band_convert(x, y, table) -> tuple[np.ndarray, np.ndarray]:
    x, y = _as_array(x, y)
    c = np.asarray(table, dtype=np.float64)  # (n, 10) per point
    out_x = c[..., 0] + c[..., 1] * np.abs(x)
    cc = np.abs(y) / c[..., 9]
    out_y = c[..., 2]
    power = np.ones_like(cc)
    for k in range(3, 9):
        power = power * cc
        out_y = out_y + c[..., k] * power
    return out_x * np.sign(x + (x == 0)), out_y * np.sign(y + (y == 0))


def bd09_to_bd09mc(lon, lat):
    """BD-09 lon/lat → Baidu Mercator metres (the projection of Baidu's tiles and APIs)."""
    scalar = np.ndim(lon) == 0 and np.ndim(lat) == 0
    lon, lat = _as_array(lon, lat)
    lon = (lon + 180.0) % 360.0 - 180.0
    lat = np.clip(lat, -74.0, 74.0)
    alat = np.abs(lat)
    band = np.zeros(lat.shape, dtype=int) + len(_LLBAND) - 1
    for i in range(len(_LLBAND) - 1, -1, -1):
        band = np.where(alat >= _LLBAND[i], i, band)
    table = np.asarray(_LL2MC)[band]
    return _ret(*_band_convert(lon, lat, table), scalar)


def bd09mc_to_bd09(x, y):
    scalar = np.ndim(x) == 0 and np.ndim(y) == 0
    x, y = _as_array(x, y)
    ay = np.abs(y)
    band = np.zeros(y.shape, dtype=int) + len(_MCBAND) - 1
    for i in range(len(_MCBAND) - 1, -1, -1):
        band = np.where(ay >= _MCBAND[i], i, band)
    table = np.asarray(_MC2LL)[band]
    return _ret(*_band_convert(x, y, table), scalar)


_TO_WGS84 = {
    CRS.WGS84: lambda lon, lat: (lon, lat),
    CRS.GCJ02: gcj02_to_wgs84,
    CRS.BD09: bd09_to_wgs84,
    CRS.BD09MC: lambda x, y: bd09_to_wgs84(*bd09mc_to_bd09(x, y)),
}
_FROM_WGS84 = {
    CRS.WGS84: lambda lon, lat: (lon, lat),
    CRS.GCJ02: wgs84_to_gcj02,
    CRS.BD09: wgs84_to_bd09,
    CRS.BD09MC: lambda lon, lat: bd09_to_bd09mc(*wgs84_to_bd09(lon, lat)),
}


def to_wgs84(lon, lat, crs: CRS | str):
    """Convert ``(lon, lat)`` (or Baidu Mercator ``(x, y)``) in ``crs`` to WGS-84."""
    return _TO_WGS84[CRS.parse(crs)](lon, lat)


def from_wgs84(lon, lat, crs: CRS | str):
    """Convert a WGS-84 ``(lon, lat)`` into ``crs``."""
    return _FROM_WGS84[CRS.parse(crs)](lon, lat)
