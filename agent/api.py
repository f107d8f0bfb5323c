"""The Python entry point: ``Geolocator().locate(image) -> GeoPrediction`` (and ``alocate``).

Images may be a path, bytes, a PIL image, base64 text or a data: URI; everything but a path is
stored once in the image cache by its hash, so graph state stays small and serialisable.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from sinoloc.agent.graph import RECURSION_LIMIT, build_graph
from sinoloc.agent.policies import build_policy
from sinoloc.agent.policies.deterministic import Policy
from sinoloc.agent.schemas import GeoPrediction
from sinoloc.agent.settings import Environment, LocateRequest, LocateSettings
from sinoloc.tools.image_sources import image_to_path
from sinoloc.tools.images import ImageInputError, load_image

ImageInput = str | Path | bytes | Any  # Any: a PIL image


class Geolocator:
    """Locate images with a language model named by ``llm`` (``"google_genai:gemini-2.5-flash"``,
    ``"local:/path/to/qwen2.5-vl"``, …; see :class:`~sinoloc.agent.llm.LlmSpec`), a LangChain
    chat model object, or any :class:`Policy`; with none of them, the model ``SINOLOC_LLM``
    names, else the deterministic policy.

    ``settings`` (a :class:`LocateSettings` or a dict of its fields, or keyword arguments)
    apply to every image; ``locate(image, **options)`` overrides them for one image. The
    environment (``SINOLOC_LLM``, ``SINOLOC_LLM_BASE_URL``, ``SINOLOC_OCR``) is read once, here,
    as by the CLI (:class:`~sinoloc.agent.settings.Environment`); give ``environment`` to
    decide it yourself.
    """

    def __init__(self, policy: Policy | None = None, *, llm: str | None = None,
                 chat_model=None, base_url: str | None = None,
                 settings: LocateSettings | dict | None = None,
                 environment: Environment | None = None, **request_defaults):
        env = environment or Environment.read()
        base_url = base_url or env.base_url
        if all(x is None for x in (policy, llm, chat_model)):
            llm = env.llm
        chosen = (build_policy(llm, policy=policy, chat_model=chat_model, base_url=base_url)
                  if any(x is not None for x in (policy, llm, chat_model)) else None)
        self._graph = build_graph(chosen, base_url=base_url)
        given = settings.model_dump(exclude_unset=True) if isinstance(settings, LocateSettings) \
            else dict(settings or {})
        self._defaults = LocateSettings.model_validate(
            {**env.model_dump(include={"ocr_backend"}, exclude_unset=True), **given, **request_defaults}
        ).model_dump(exclude_unset=True)

    @property
    def graph(self):
        """The compiled LangGraph graph (invoke it with ``{"request": {...}}``)."""
        return self._graph

    def _request(self, image: ImageInput, options: dict) -> dict:
        path = image_to_path(image)
        request = LocateRequest(image_path=str(path), **{**self._defaults, **options})
        load_image(request.image_path)  # fail fast, with the clear message, before the graph
        return request.model_dump(exclude_unset=True)

    @staticmethod
    def _config(config: dict | None) -> dict:
        return {"recursion_limit": RECURSION_LIMIT, **(config or {})}

    @staticmethod
    def _prediction(result: dict, start: float) -> GeoPrediction:
        if not result.get("prediction"):
            raise RuntimeError("the graph ended without a prediction: "
                               + "; ".join(result.get("warnings", [])))
        prediction = GeoPrediction.model_validate(result["prediction"])
        prediction.timings["total"] = round(time.perf_counter() - start, 4)
        return prediction

    def locate(self, image: ImageInput, *, config: dict | None = None,
               **options) -> GeoPrediction:
        """Locate one image. Raises :class:`ImageInputError` for unreadable input.
        ``config`` is a LangChain runnable config (callbacks, tags, ``configurable``)."""
        start = time.perf_counter()
        result = self._graph.invoke({"request": self._request(image, options)},
                                    config=self._config(config))
        return self._prediction(result, start)

    async def alocate(self, image: ImageInput, *, config: dict | None = None,
                      **options) -> GeoPrediction:
        """``locate`` for asyncio code (the graph's blocking steps run in worker threads)."""
        start = time.perf_counter()
        result = await self._graph.ainvoke({"request": self._request(image, options)},
                                           config=self._config(config))
        return self._prediction(result, start)


__all__ = ["GeoPrediction", "Geolocator", "ImageInputError", "LocateSettings"]
