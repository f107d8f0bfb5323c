"""The Python entry point: ``Geolocator().locate(image) -> GeoPrediction``."""

from __future__ import annotations

import time
from pathlib import Path

from ..tools.images import ImageInputError, load_image
from .graph import build_graph
from .policy import Policy
from .schemas import GeoPrediction, LocateRequest


class Geolocator:
    """Locate images with the deterministic policy (default), a language model named by
    ``llm`` (``"google_genai:gemini-2.5-flash"``, ``"local:/path/to/qwen2.5-vl"``, …; see
    :class:`~sinoloc.agent.llm.LlmSpec`), a chat model object, or any :class:`Policy`."""

    def __init__(self, policy: Policy | None = None, *, llm: str | None = None,
                 chat_model=None, base_url: str | None = None, **request_defaults):
        if sum(x is not None for x in (policy, llm, chat_model)) > 1:
            raise ValueError("give at most one of policy, llm and chat_model")
        if chat_model is not None:
            from .llm.policy import ChatModelPolicy

            name = getattr(chat_model, "model_name", None) or getattr(chat_model, "model", None)
            policy = ChatModelPolicy(chat_model, f"chat_model:{name or type(chat_model).__name__}")
        elif llm is not None:
            from .llm import build_policy

            policy = build_policy(llm, base_url)
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
                                    config={"recursion_limit": 200})
        if not result.get("prediction"):
            raise RuntimeError("the graph ended without a prediction: "
                               + "; ".join(result.get("warnings", [])))
        prediction = GeoPrediction.model_validate(result["prediction"])
        prediction.timings["total"] = round(time.perf_counter() - start, 4)
        return prediction


__all__ = ["GeoPrediction", "Geolocator", "ImageInputError"]
