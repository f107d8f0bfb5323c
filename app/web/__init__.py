"""``sinoloc serve``: the web app (app.py, FastAPI), its runs and events (runner.py), the eval
runs viewer (runs.py), the standalone HTML map (mapview.py, over :mod:`sinoloc.agent.output.mapdata`)
and the static files shipped in the wheel (static/). Only app.py and runs.py need the ``serve``
extra; mapview also serves ``--map`` on a core install."""

from importlib import resources
from pathlib import Path


def static_dir() -> Path:
    """The page's scripts, styles and the vendored Leaflet (package data)."""
    return Path(str(resources.files(__name__).joinpath("static")))
