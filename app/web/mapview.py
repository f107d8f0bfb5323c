"""``--map OUT.html`` (and the chat's ``/map``): the web app's offline map of one answer as a single
self-contained file — Leaflet, its styles and icons, the map script, the outlines and the belief
are all inside it, so it opens with no network and sends nothing (online tiles only if the
reader picks them in the map's own menu). Same drawing as ``sinoloc serve`` (web/static/map.js):
claimed outlines with names, the belief choropleth with a legend, candidates, point evidence, the
answer with its precision circle, and a plain mark when the answer is a guess.
"""

from __future__ import annotations

import base64
import html
import json
import re
from pathlib import Path

from sinoloc.agent.output.render import place_names
from sinoloc.agent.schemas import GeoPrediction

_PAGE = """<!doctype html>
<html lang="zh">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'unsafe-inline'; \
style-src 'unsafe-inline'; img-src data: https:; connect-src 'none'">
<title>{title}</title>
<style>{leaflet_css}</style>
<style>{map_css}
html, body {{ margin: 0; height: 100%; font: 14px/1.4 system-ui, sans-serif; }}
#head {{ padding: 6px 12px; background: #23303d; color: #fff; }}
#head .guess {{ background: #fff3cd; color: #6b4e00; padding: 1px 8px; border-radius: 10px; }}
#map {{ position: absolute; top: 34px; bottom: 0; left: 0; right: 0; }}
</style>
</head>
<body>
<div id="head">{head}</div>
<div id="map"></div>
<script>{leaflet_js}</script>
<script>{map_js}</script>
<script>
const DATA = {data};
const BASE = {base};
SinolocMap.draw(document.getElementById("map"), DATA, BASE);
</script>
</body>
</html>
"""


def _static(name: str) -> str:
    from sinoloc.app.web import static_dir

    return (static_dir() / name).read_text(encoding="utf-8")


def _inline_images(css: str) -> str:
    """Leaflet's ``url(images/x.png)`` as data: URIs (a lone file has no images folder)."""
    from sinoloc.app.web import static_dir

    folder = static_dir() / "vendor" / "leaflet"

    def data_uri(match: re.Match) -> str:
        data = (folder / match.group(1)).read_bytes()
        return f"url(data:image/png;base64,{base64.b64encode(data).decode('ascii')})"

    return re.sub(r"url\((images/[\w.-]+\.png)\)", data_uri, css)


_SCRIPT_UNSAFE = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028",
                  "\u2029": "\\u2029"}


def _json_in_script(text: str) -> str:
    """JSON text that cannot end or change the ``<script>`` it is embedded in: every ``<``,
    ``>`` and ``&`` as a JSON escape (so no ``</script``, ``<!--`` or ``<script`` survives, in
    any case: an HTML parser treats ``<!--<script>`` inside a script as the start of an escape
    that swallows the page's closing tag). The value the script sees is unchanged."""
    return "".join(_SCRIPT_UNSAFE.get(c, c) for c in text)


def _script_text(name: str) -> str:
    """A static script to inline; refused when it holds what would end or escape its element."""
    text = _static(name)
    lowered = text.lower()
    if any(bad in lowered for bad in ("</script", "<!--", "<script")):
        raise ValueError(f"{name} cannot be inlined: it contains </script, <!-- or <script")
    return text


def map_html(prediction: GeoPrediction) -> str:
    """The standalone page (see the module docstring)."""
    from sinoloc.agent.output.mapdata import base_layer, map_data

    guess = prediction.basis == "prior_only"
    head = (f"<b>{html.escape(place_names(prediction))}</b> &nbsp; {prediction.lat:.5f}, "
            f"{prediction.lon:.5f} (WGS-84) ±{prediction.precision_km:.1f} km &nbsp; "
            + ('<span class="guess">GUESS · prior only</span>' if guess
               else f"basis: {html.escape(prediction.basis)}"))
    return _PAGE.format(
        title=html.escape(f"sinoloc: {place_names(prediction)}"), head=head,
        leaflet_css=_inline_images(_static("vendor/leaflet/leaflet.css")),
        map_css=_static("map.css"), leaflet_js=_script_text("vendor/leaflet/leaflet.js"),
        map_js=_script_text("map.js"), data=_json_in_script(map_data(prediction).model_dump_json()),
        base=_json_in_script(json.dumps(base_layer(), ensure_ascii=False, separators=(",", ":"))))


def write_map(prediction: GeoPrediction, path: str | Path) -> Path:
    """Write the standalone offline map of ``prediction`` to ``path``."""
    path = Path(path)
    path.write_text(map_html(prediction), encoding="utf-8")
    return path
