"""What the offline map draws for one answer, as one JSON document (:class:`MapData`).

The page (``sinoloc serve``) and the standalone ``--map`` file draw the same document with the
same script (static/map.js): the claimed province / city / district outlines, the belief over
districts as a choropleth with its legend, the candidate districts, the answer point with its
precision circle, the point evidence linked to its ids, and a plain mark when the answer is a
guess (``basis == "prior_only"``). Everything is WGS-84; the belief is recomputed with
:func:`~sinoloc.tools.fusion.fuse` from the prediction's own evidence, so the map shows the
distribution the decision was made from.
"""

from __future__ import annotations

import json

from pydantic import BaseModel, Field

from sinoloc.agent.output.geometry import geometry, outline
from sinoloc.agent.output.render import place_names
from sinoloc.agent.schemas import GeoPrediction
from sinoloc.tools.fusion import fuse
from sinoloc.tools.regions import Level, get_region_index

BASE_TOLERANCE = 0.03  # degrees, the province outlines under every map
MAX_BELIEF_DISTRICTS = 300  # polygons sent to the browser (enough to cover a province's spread)
BELIEF_MASS = 0.995  # …or fewer, once they hold this much of the belief
MIN_BELIEF_DISTRICTS = 25  # …but never fewer than this: the runners-up around a sure answer
# the legend: lower bounds of the classes and their colours (ColorBrewer YlOrRd, 7 classes)
BINS = [(0.3, "#b10026"), (0.1, "#e31a1c"), (0.03, "#fc4e2a"), (0.01, "#fd8d3c"),
        (0.003, "#feb24c"), (0.001, "#fed976"), (0.0, "#ffffb2")]


class Feature(BaseModel):
    level: str
    adcode: str
    name: str
    label: str = Field(description="full place name, e.g. 浙江省杭州市西湖区")
    probability: float | None = None
    lat: float = Field(description="WGS-84 label point")
    lon: float
    geometry: dict | None = Field(default=None, description="simplified WGS-84 GeoJSON geometry")


class PointMark(BaseModel):
    evidence_id: str
    kind: str
    text: str
    lat: float
    lon: float
    radius_km: float


class LegendClass(BaseModel):
    min: float
    color: str
    label: str


class MapAnswer(BaseModel):
    label: str
    lat: float
    lon: float
    precision_km: float
    basis: str
    guess: bool = Field(description="True when no evidence located the image (prior_only)")
    confidence: dict[str, float]


class MapData(BaseModel):
    answer: MapAnswer
    claimed: list[Feature] = Field(description="province, city, district the answer names")
    belief: list[Feature] = Field(description="districts by belief, most probable first")
    belief_mass_shown: float
    belief_districts_total: int
    candidates: list[Feature]
    points: list[PointMark]
    legend: list[LegendClass]
    coordinate_system: str = "WGS-84"


def _bound(fraction: float) -> str:
    """A class bound as a percent, in one style for every class (30, 3, 0.3: no 10.0 beside 10)."""
    return f"{fraction * 100:g}"


def _legend() -> list[LegendClass]:
    out, upper = [], None
    for low, color in BINS:
        if upper is None:
            text = f"≥ {_bound(low)}%"
        elif low == 0:
            text = f"< {_bound(upper)}%"
        else:
            text = f"{_bound(low)} – {_bound(upper)}%"
        out.append(LegendClass(min=low, color=color, label=text))
        upper = low
    return out


def _feature(region, probability: float | None = None, with_geometry: bool = True) -> Feature:
    index = get_region_index()
    return Feature(level=region.level.value, adcode=region.adcode, name=region.name,
                   label=index.label(region), probability=probability, lat=region.lat,
                   lon=region.lon,
                   geometry=outline(region.level, region.adcode) if with_geometry else None)


def map_data(prediction: GeoPrediction) -> MapData:
    """The map of ``prediction`` (see the module docstring)."""
    index = get_region_index()
    claimed: list[Feature] = []
    for level, adcode in ((Level.PROVINCE, prediction.province_adcode),
                          (Level.CITY, prediction.city_adcode),
                          (Level.DISTRICT, prediction.district_adcode)):
        region = index.get(adcode, level) if adcode else None
        if region is not None and all(c.adcode != region.adcode for c in claimed):
            claimed.append(_feature(region))
    belief = fuse(prediction.evidence, index)
    order = belief.probs.argsort()[::-1]
    shown, mass = [], 0.0
    for i in order[:MAX_BELIEF_DISTRICTS]:
        p = float(belief.probs[i])
        shown.append(_feature(index.districts[int(i)], p))
        mass += p
        if mass >= BELIEF_MASS and len(shown) >= MIN_BELIEF_DISTRICTS:
            break
    candidates = []
    for c in prediction.candidates:
        region = index.get(c.adcode, Level.DISTRICT)
        if region is not None:
            candidates.append(_feature(region, c.probability, with_geometry=False))
    points = [PointMark(evidence_id=e.id, kind=e.kind.value, text=e.text, lat=e.point.lat,
                        lon=e.point.lon, radius_km=e.point.radius_km)
              for e in prediction.evidence if e.point is not None]
    answer = MapAnswer(
        label=place_names(prediction), lat=prediction.lat, lon=prediction.lon,
        precision_km=prediction.precision_km, basis=prediction.basis,
        guess=prediction.basis == "prior_only",
        confidence=prediction.confidence.model_dump())
    return MapData(answer=answer, claimed=claimed, belief=shown, belief_mass_shown=round(mass, 4),
                   belief_districts_total=int((belief.probs > 0).sum()), candidates=candidates,
                   points=points, legend=_legend())


def base_layer() -> dict:
    """Every province outline with its name: the context drawn under every map (no tiles),
    coarser than a claimed province's own outline (~3 km: 150 kB instead of 500 kB)."""
    import shapely

    index = get_region_index()
    shapes = geometry()[Level.PROVINCE.value]
    features = []
    for region in sorted(index.provinces(), key=lambda r: r.adcode):
        shape = shapes.get(region.adcode)
        if shape is not None:
            coarse = shapely.simplify(shapely.from_geojson(json.dumps(shape)), BASE_TOLERANCE)
            shape = json.loads(shapely.to_geojson(coarse if not coarse.is_empty else
                                                  shapely.from_geojson(json.dumps(shape))))
            features.append({"type": "Feature", "geometry": shape, "properties": {
                "adcode": region.adcode, "name": region.name, "short": region.short,
                "lat": region.lat, "lon": region.lon}})
    return {"type": "FeatureCollection", "features": features}
