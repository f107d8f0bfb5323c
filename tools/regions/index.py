"""The administrative region index: reverse geocoding, name lookup, hierarchy navigation.

Polygons are GCJ-02 (Amap); every public method takes and returns WGS-84 and converts at the
boundary. Points are matched against the 2875 district polygons; a district's city and province
follow from its parent links, so the three levels never disagree.
"""

from __future__ import annotations

import logging
import os
import threading
from collections import defaultdict
from functools import lru_cache
from pathlib import Path

import numpy as np
import shapely

from sinoloc.tools import crs
from sinoloc.tools.regions.build import build, cache_path, data_package, read_cache, write_cache
from sinoloc.tools.regions.names import normalize
from sinoloc.tools.regions.schema import AdminPath, Level, Region, RegionInfo

log = logging.getLogger(__name__)
_EARTH_RADIUS_KM = 6371.0088
_LEVEL_ORDER = {Level.PROVINCE: 0, Level.CITY: 1, Level.DISTRICT: 2}


def default_cache_dir() -> Path:
    env = os.environ.get("SINOLOC_CACHE_DIR")
    if env:
        return Path(env)
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("sinoloc"))


def haversine_km(lon1, lat1, lon2, lat2):
    """Great-circle distance in km; numpy-broadcasting."""
    lon1, lat1, lon2, lat2 = (np.radians(np.asarray(v, dtype=np.float64))
                              for v in (lon1, lat1, lon2, lat2))
    a = (np.sin((lat2 - lat1) / 2) ** 2
         + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2)
    return 2 * _EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


class RegionIndex:
    """Loaded once per process (see :func:`get_region_index`)."""

    def __init__(self, records: list[dict], district_wkb: list[bytes], data_version: str):
        self.data_version = data_version
        self._by_key: dict[tuple[str, str], Region] = {}
        self._children: dict[tuple[str, str], list[Region]] = defaultdict(list)
        self._by_name: dict[str, list[Region]] = defaultdict(list)
        self.districts: list[Region] = []
        for rec in (dict(r) for r in records):
            keys = rec.pop("aliases")
            region = Region(**{**rec, "level": Level(rec["level"])})
            self._by_key[region.key] = region
            if region.level is Level.DISTRICT:
                self.districts.append(region)
            for key in keys:
                self._by_name[key].append(region)
        for region in self._by_key.values():
            parent = self.parent(region)
            if parent is not None:
                self._children[parent.key].append(region)
        for regions in self._by_name.values():
            regions.sort(key=lambda r: (_LEVEL_ORDER[r.level], r.adcode))
        self.district_position = {r.adcode: i for i, r in enumerate(self.districts)}
        self.district_lon = np.array([r.lon for r in self.districts])
        self.district_lat = np.array([r.lat for r in self.districts])
        self.district_area = np.array([r.area_km2 for r in self.districts])
        self.district_province = np.array([r.province_adcode for r in self.districts])
        self.district_city = np.array([r.city_adcode for r in self.districts])
        self._polygons = np.asarray(shapely.from_wkb(district_wkb))
        self._tree = shapely.STRtree(self._polygons)
        self._areas: np.ndarray | None = None
        self._prepared = False

    # ---------------------------------------------------------------- loading
    @classmethod
    def load(cls, cache_dir: Path | None = None) -> RegionIndex:
        root, version = data_package()
        path = cache_path(cache_dir or default_cache_dir(), version)
        if path.exists():
            try:
                records, wkb = read_cache(path)
                return cls(records, wkb, version)
            except (OSError, ValueError, KeyError) as exc:
                log.warning("region cache %s unreadable (%s): rebuilding", path, exc)
        records, wkb = build(root)
        try:
            write_cache(path, records, wkb)
        except OSError as exc:  # a read-only cache dir costs speed, not correctness
            log.warning("could not write region cache %s: %s", path, exc)
        return cls(records, wkb, version)

    # ---------------------------------------------------------------- hierarchy
    def get(self, adcode: str, level: Level | str | None = None) -> Region | None:
        """The region with this adcode; without a level the most general one that has it."""
        if level is not None:
            return self._by_key.get((Level(level).value, str(adcode)))
        for lvl in (Level.PROVINCE, Level.CITY, Level.DISTRICT):
            region = self._by_key.get((lvl.value, str(adcode)))
            if region is not None:
                return region
        return None

    def require(self, adcode: str, level: Level | str | None = None) -> Region:
        """:meth:`get` for an adcode that must exist (one taken from this index's own data):
        a missing one is a bug, raised as KeyError."""
        region = self.get(adcode, level)
        if region is None:
            raise KeyError(f"no region {adcode} ({level or 'any level'}) in the region data")
        return region

    def province_of(self, region: Region) -> Region:
        return self._by_key[(Level.PROVINCE.value, region.province_adcode)]

    def city_of(self, region: Region) -> Region | None:
        if region.city_adcode is None:
            return None
        return self._by_key[(Level.CITY.value, region.city_adcode)]

    def parent(self, region: Region) -> Region | None:
        if region.level is Level.DISTRICT:
            return self.city_of(region)
        if region.level is Level.CITY:
            return self.province_of(region)
        return None

    def children(self, region: Region) -> list[Region]:
        return list(self._children.get(region.key, ()))

    def provinces(self) -> list[Region]:
        return [r for r in self._by_key.values() if r.level is Level.PROVINCE]

    def cities(self) -> list[Region]:
        return [r for r in self._by_key.values() if r.level is Level.CITY]

    def is_within(self, region: Region, ancestor: Region) -> bool:
        """True if ``region`` is ``ancestor`` or lies inside it."""
        if ancestor.level is Level.PROVINCE:
            return region.province_adcode == ancestor.adcode
        if ancestor.level is Level.CITY:
            return region.level is not Level.PROVINCE and region.city_adcode == ancestor.adcode
        return region.key == ancestor.key

    def district_mask(self, region: Region) -> np.ndarray:
        """Boolean mask over :attr:`districts` of the districts inside ``region``."""
        if region.level is Level.PROVINCE:
            return self.district_province == region.adcode
        if region.level is Level.CITY:
            return self.district_city == region.adcode
        mask = np.zeros(len(self.districts), dtype=bool)
        mask[self.district_position[region.adcode]] = True
        return mask

    def admin_path(self, region: Region) -> AdminPath:
        province = self.province_of(region)
        city = self.city_of(region) if region.level is not Level.PROVINCE else None
        district = region if region.level is Level.DISTRICT else None
        return AdminPath(
            province=province.name, province_adcode=province.adcode,
            city=city.name if city else None, city_adcode=city.adcode if city else None,
            district=district.name if district else None,
            district_adcode=district.adcode if district else None,
        )

    def info(self, region: Region) -> RegionInfo:
        city = self.city_of(region) if region.level is not Level.PROVINCE else None
        return RegionInfo(
            level=region.level, adcode=region.adcode, name=region.name,
            province=self.province_of(region).name, city=city.name if city else None,
            lat=region.lat, lon=region.lon, area_km2=region.area_km2,
        )

    def label(self, region: Region) -> str:
        """浙江省杭州市西湖区 (municipalities and SARs are not repeated)."""
        parts = [self.province_of(region).name]
        if region.level is not Level.PROVINCE:
            city = self.city_of(region)
            if city is not None and city.name != parts[0]:
                parts.append(city.name)
            if region.level is Level.DISTRICT and region.name != parts[-1]:
                parts.append(region.name)
        return "".join(parts)

    # ---------------------------------------------------------------- names
    def lookup(self, name: str, level: Level | str | None = None,
               within: Region | None = None) -> list[Region]:
        """All regions called ``name`` (full, short or pinyin), most general first.

        Ambiguous names return every match: 朝阳区 → 北京市朝阳区 and 长春市朝阳区.
        """
        matches = self._by_name.get(normalize(name), [])
        if level is not None:
            matches = [r for r in matches if r.level is Level(level)]
        if within is not None:
            matches = [r for r in matches if self.is_within(r, within)]
        return list(matches)

    def names(self) -> list[tuple[str, Region]]:
        """Every (full name, region) pair, for gazetteer matching in free text."""
        return [(r.name, r) for r in self._by_key.values()]

    # ---------------------------------------------------------------- geometry
    def _ensure_prepared(self) -> None:
        if not self._prepared:
            shapely.prepare(self._polygons)
            self._prepared = True

    def locate_districts(self, lon, lat) -> np.ndarray:
        """Indices into :attr:`districts` for WGS-84 points; -1 where no district (the sea,
        abroad). Vectorised: pass arrays for throughput."""
        lon = np.atleast_1d(np.asarray(lon, dtype=np.float64))
        lat = np.atleast_1d(np.asarray(lat, dtype=np.float64))
        glon, glat = crs.wgs84_to_gcj02(lon, lat)
        glon, glat = np.atleast_1d(glon), np.atleast_1d(glat)
        self._ensure_prepared()
        point_idx, poly_idx = self._tree.query(shapely.points(glon, glat))
        hit = shapely.contains_xy(self._polygons[poly_idx], glon[point_idx], glat[point_idx])
        out = np.full(lon.shape, -1, dtype=np.int64)
        out[point_idx[hit]] = poly_idx[hit]
        return out

    def reverse(self, lon: float, lat: float) -> Region | None:
        """The district containing a WGS-84 point, or None (sea, outside China)."""
        idx = int(self.locate_districts(lon, lat)[0])
        return self.districts[idx] if idx >= 0 else None

    def nearest_district(self, lon: float, lat: float) -> tuple[Region, float]:
        """The district whose polygon is nearest a WGS-84 point, and the distance in km
        (0 inside). Used for points just off the coast."""
        glon, glat = crs.wgs84_to_gcj02(lon, lat)
        point = shapely.Point(glon, glat)
        idx = int(self._tree.nearest(point))
        polygon = self._polygons[idx]
        if shapely.contains_xy(polygon, glon, glat):
            return self.districts[idx], 0.0
        near = shapely.shortest_line(polygon, point).coords[0]
        near = shapely.Point(near)
        nlon, nlat = crs.gcj02_to_wgs84(near.x, near.y)
        return self.districts[idx], float(haversine_km(lon, lat, nlon, nlat))

    def districts_near(self, lon: float, lat: float, radius_km: float) -> list[tuple[int, float]]:
        """(district position, distance in km from the point to its polygon) for every district
        within ``radius_km`` of a WGS-84 point (0 for the one containing it)."""
        glon, glat = crs.wgs84_to_gcj02(lon, lat)
        km_per_deg_lat = 111.32
        km_per_deg_lon = 111.32 * max(np.cos(np.radians(glat)), 0.05)
        box = shapely.box(glon - radius_km / km_per_deg_lon, glat - radius_km / km_per_deg_lat,
                          glon + radius_km / km_per_deg_lon, glat + radius_km / km_per_deg_lat)
        point = shapely.Point(glon, glat)
        out = []
        for idx in self._tree.query(box):
            near = shapely.shortest_line(self._polygons[idx], point).coords[0]
            dist = float(np.hypot((near[0] - glon) * km_per_deg_lon,
                                  (near[1] - glat) * km_per_deg_lat))
            if dist <= radius_km:
                out.append((int(idx), dist))
        return out

    def districts_in_ring(self, lon: float, lat: float, inner_km: float,
                          outer_km: float) -> list[tuple[int, float]]:
        """(district position, km² of the district inside the ring) for every district that
        overlaps the ring of radii ``inner_km`` < ``outer_km`` around a WGS-84 point (a disc
        where ``inner_km`` is 0); areas in a local plane at the point's latitude."""
        glon, glat = crs.wgs84_to_gcj02(lon, lat)
        kx = 111.32 * max(np.cos(np.radians(glat)), 0.05)  # km per degree (lon, lat)
        ky = 111.32
        angles = np.linspace(0.0, 2 * np.pi, 97)[:-1]

        def circle(radius: float):
            return shapely.Polygon(np.column_stack([glon + radius * np.cos(angles) / kx,
                                                    glat + radius * np.sin(angles) / ky]))

        ring = circle(outer_km)
        if inner_km > 0:
            ring = ring.difference(circle(inner_km))
        out = []
        for idx in self._tree.query(ring):
            overlap = float(shapely.intersection(self._polygons[idx], ring).area) * kx * ky
            if overlap > 0:
                out.append((int(idx), overlap))
        return out

    def district_areas_km2(self) -> np.ndarray:
        """Every district's area in km² (in order of ``districts``; a local plane at each
        district's centroid latitude), computed once."""
        if self._areas is None:
            lat = shapely.get_y(shapely.centroid(self._polygons))
            scale = 111.32 * 111.32 * np.maximum(np.cos(np.radians(lat)), 0.05)
            self._areas = shapely.area(self._polygons) * scale
            self._areas.setflags(write=False)
        return self._areas

    def contains(self, region: Region, lon: float, lat: float) -> bool:
        """Whether a WGS-84 point lies inside ``region``."""
        district = self.reverse(lon, lat)
        return district is not None and self.is_within(district, region)

    def district_polygon_wgs84(self, region: Region):
        """A district's polygon in WGS-84 (for maps)."""
        return shapely.transform(self._polygons[self.district_position[region.adcode]],
                                 _gcj02_coords_to_wgs84)

    def district_outlines_wgs84(self, tolerance_deg: float = 0.03) -> list[np.ndarray]:
        """Simplified district boundary rings as WGS-84 (lon, lat) arrays, for base maps."""
        simple = shapely.simplify(self._polygons, tolerance_deg, preserve_topology=False)
        rings = shapely.get_parts(shapely.get_parts(shapely.boundary(
            shapely.transform(simple, _gcj02_coords_to_wgs84))))  # one vectorised conversion
        return [c for c in (shapely.get_coordinates(r) for r in rings) if len(c) >= 2]


def _gcj02_coords_to_wgs84(coords: np.ndarray) -> np.ndarray:
    """(lon, lat) rows from GCJ-02 to WGS-84, for ``shapely.transform``."""
    lon, lat = crs.gcj02_to_wgs84(coords[:, 0], coords[:, 1])
    return np.column_stack([lon, lat])


_LOAD_LOCK = threading.Lock()


def get_region_index() -> RegionIndex:
    """The process-wide index (built on first use, then read from the user cache dir);
    thread-safe, loaded once."""
    with _LOAD_LOCK:
        return _load_default()


@lru_cache(maxsize=1)
def _load_default() -> RegionIndex:
    return RegionIndex.load()
