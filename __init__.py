"""sinoloc: an agentic geolocator for photos taken in China."""

__version__ = "0.1.0"
