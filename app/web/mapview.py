"""``--map OUT.html`` (and the chat's ``/map``): the web app's offline map of one answer as a single
self-contained file — Leaflet, its styles and icons, the map script, the outlines and the belief
are all inside it, so it opens with no network and sends nothing (online tiles only if the
reader picks them in the map's own menu). Same drawing as ``sinoloc serve`` (web/static/map.js):
claimed outlines with names, the belief choropleth with a legend, candidates, point evidence, the
answer with its precision circle, and a plain mark when the answer is a guess. Given the image
that was run, the page also holds a downscaled copy of it (at most 1600 px, JPEG) with each OCR
line's box drawn where it was read (web/static/photo.js) and the evidence list, linked both ways.
"""

from __future__ import annotations

import base64
import html
import io
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
{photo_css}
body.with-photo #map {{ right: min(40%, 520px); }}
#side {{ position: absolute; top: 34px; bottom: 0; right: 0; width: min(40%, 520px);
  overflow: auto; padding: 8px 10px; box-sizing: border-box; background: #fafaf7; }}
#side[hidden] {{ display: none; }}
#side table {{ border-collapse: collapse; width: 100%; font-size: 12px; }}
#side td {{ padding: 2px 6px; border-bottom: 1px solid #eee; overflow-wrap: anywhere; }}
#side tr.hl {{ background: #fff3a8; }}
@media (max-width: 900px) {{
  body.with-photo #map {{ position: relative; top: 0; right: auto; height: 60vh; }}
  #side {{ position: static; width: auto; }}
}}
</style>
</head>
<body class="{body_class}">
<div id="head">{head}</div>
<div id="map"></div>
<div id="side"{side_hidden}><div id="photo" hidden></div>{evidence}</div>
<script>{leaflet_js}</script>
<script>{map_js}</script>
<script>{photo_js}</script>
<script>
const DATA = {data};
const BASE = {base};
const PHOTO = {photo};
let photoView = null;
const showEvidence = (ids) => SinolocPhoto.showEvidence(ids, photoView);
SinolocMap.draw(document.getElementById("map"), DATA, BASE, {{ onEvidence: showEvidence }});
photoView = SinolocPhoto.draw(document.getElementById("photo"), PHOTO.marks, PHOTO.src,
                              {{ onEvidence: showEvidence }});
document.addEventListener("click", (ev) => {{
  const link = ev.target.closest("a.ev-link");
  if (link) {{ ev.preventDefault(); showEvidence(link.dataset.ev); }}
}});
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


PHOTO_WIDTH = 1600  # the photo in the page: at most this wide (and high), as a JPEG
PHOTO_QUALITY = 82


def photo_jpeg(image: str | Path, sha256: str | None = None) -> bytes | None:
    """The image a run read, downscaled to at most :data:`PHOTO_WIDTH` px on its long side, as
    JPEG bytes; None when it cannot be read or is not the image that was run (its content hash
    differs)."""
    from sinoloc.tools.images import ImageInputError, run_image

    try:
        loaded = run_image(image, sha256 or None)
    except (ImageInputError, OSError):
        return None
    picture = loaded.image.copy()
    picture.thumbnail((PHOTO_WIDTH, PHOTO_WIDTH))
    buffer = io.BytesIO()
    picture.convert("RGB").save(buffer, "JPEG", quality=PHOTO_QUALITY, optimize=True)
    return buffer.getvalue()


def photo_data_url(image: str | Path, sha256: str | None = None) -> str | None:
    """:func:`photo_jpeg` as a ``data:`` URL (the ``--map`` page holds its photo)."""
    data = photo_jpeg(image, sha256)
    return None if data is None else "data:image/jpeg;base64," + base64.b64encode(data).decode("ascii")


def _evidence_table(prediction: GeoPrediction) -> str:
    rows = "".join(
        f'<tr id="ev-{html.escape(e.id)}"><td><a class="ev-link" href="#" data-ev="{html.escape(e.id)}">'
        f"{html.escape(e.id)}</a></td><td>{html.escape(e.kind.value)}</td><td>{html.escape(e.text)}</td></tr>"
        for e in prediction.evidence)
    return f"<h3>Evidence</h3><table id=\"evidence\">{rows or '<tr><td>(none)</td></tr>'}</table>"


def map_html(prediction: GeoPrediction, photo_url: str | None = None) -> str:
    """The standalone page (see the module docstring); with ``photo_url`` (a ``data:`` URL of the
    photo, :func:`photo_data_url`) a side panel shows it with its text's boxes and the evidence."""
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
        map_js=_script_text("map.js"), photo_js=_script_text("photo.js"), photo_css=_static("photo.css"),
        body_class="with-photo" if photo_url else "", side_hidden="" if photo_url else " hidden",
        evidence=_evidence_table(prediction) if photo_url else "",
        photo=_json_in_script(json.dumps({
            "marks": prediction.photo_marks.model_dump(mode="json") if prediction.photo_marks else None,
            "src": photo_url}, ensure_ascii=False, separators=(",", ":"))),
        data=_json_in_script(map_data(prediction).model_dump_json()),
        base=_json_in_script(json.dumps(base_layer(), ensure_ascii=False, separators=(",", ":"))))


def write_map(prediction: GeoPrediction, path: str | Path, image: str | Path | None = None) -> Path:
    """Write the standalone offline map of ``prediction`` to ``path``; with the ``image`` that was
    run, a downscaled copy of it with its text's boxes is inside the file too."""
    path = Path(path)
    photo = photo_data_url(image, prediction.image.sha256) if image is not None else None
    path.write_text(map_html(prediction, photo), encoding="utf-8")
    return path
