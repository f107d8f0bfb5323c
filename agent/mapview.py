"""An HTML map (folium / Leaflet) of the answer, the candidates and the point evidence."""

from __future__ import annotations

from pathlib import Path

from ..tools.regions import Level, get_region_index
from .schemas import GeoPrediction


def write_map(prediction: GeoPrediction, path: str | Path) -> Path:
    import folium
    import shapely

    index = get_region_index()
    fmap = folium.Map(location=[prediction.lat, prediction.lon], zoom_start=9,
                      tiles="OpenStreetMap")
    if prediction.district_adcode:
        district = index.get(prediction.district_adcode, Level.DISTRICT)
        if district is not None:
            polygon = index.district_polygon_wgs84(district)
            folium.GeoJson(shapely.geometry.mapping(polygon), name=district.name,
                           style_function=lambda _: {"color": "#d33", "weight": 2,
                                                     "fillOpacity": 0.08}).add_to(fmap)
    for c in prediction.candidates:
        folium.CircleMarker(
            [c.lat, c.lon], radius=4 + 20 * c.probability ** 0.5, color="#36c", fill=True,
            popup=f"{c.rank}. {c.province}{c.city or ''}{c.district} {c.probability:.1%}",
        ).add_to(fmap)
    for e in prediction.evidence:
        if e.point is not None:
            folium.Circle([e.point.lat, e.point.lon], radius=e.point.radius_km * 1000,
                          color="#393", popup=f"{e.id} {e.kind.value}: {e.text}").add_to(fmap)
    folium.Marker([prediction.lat, prediction.lon], tooltip="answer", popup=(
        f"{prediction.province}{prediction.city or ''}{prediction.district or ''} "
        f"±{prediction.precision_km:.1f} km")).add_to(fmap)
    path = Path(path)
    fmap.save(str(path))
    return path
