"""``sinoloc serve``: the web app (app.py, FastAPI), its runs and events (runner.py), the offline
map's data (mapdata.py, geometry.py) and the static files shipped in the wheel (static/). Only
app.py needs the ``serve`` extra; the map modules also serve ``--map`` on a core install."""

from importlib import resources
from pathlib import Path


def static_dir() -> Path:
    """The page's scripts, styles and the vendored Leaflet (package data)."""
    return Path(str(resources.files(__name__).joinpath("static")))
