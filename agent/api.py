"""The Python entry point: ``Geolocator().locate(image) -> GeoPrediction``."""

from __future__ import annotations

import time
from pathlib import Path

from ..tools.images import ImageInputError, load_image
from .graph import build_graph
from .policy import Policy
from .schemas import GeoPrediction, LocateRequest


class Geolocator:
    def __init__(self, policy: Policy | None = None, **request_defaults):
        self._graph = build_graph(policy)
        self._defaults = request_defaults

    @property
    def graph(self):
        return self._graph

    def locate(self, image: str | Path, **options) -> GeoPrediction:
        """Locate an image file. Raises :class:`ImageInputError` for unreadable input."""
        start = time.perf_counter()
        request = LocateRequest(image_path=str(image), **{**self._defaults, **options})
        load_image(request.image_path)  # fail fast, with the clear message, before the graph
        result = self._graph.invoke({"request": request.model_dump()},
                                    config={"recursion_limit": 60})
        if not result.get("prediction"):
            raise RuntimeError("the graph ended without a prediction: "
                               + "; ".join(result.get("warnings", [])))
        prediction = GeoPrediction.model_validate(result["prediction"])
        prediction.timings["total"] = round(time.perf_counter() - start, 4)
        return prediction


__all__ = ["GeoPrediction", "Geolocator", "ImageInputError"]
