"""The Python entry point: ``Geolocator().locate(image) -> GeoPrediction`` (and ``alocate``).

Images may be a path, bytes, a PIL image, base64 text or a data: URI; everything but a path is
stored once in the image cache by its hash, so graph state stays small and serialisable.
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

from langgraph.types import Command
from pydantic import BaseModel

from sinoloc.agent.graph import RECURSION_LIMIT, build_graph
from sinoloc.agent.policies import build_policy
from sinoloc.agent.policies.deterministic import Policy
from sinoloc.agent.review import ReviewDecision, ReviewRequest
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
        self._policy = chosen
        self._base_url = base_url
        self._review_graph = None
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


    # ------------------------------------------------------------------ human review
    def _reviewing(self):
        if self._review_graph is None:  # threads in memory: a review pauses between calls
            from langgraph.checkpoint.memory import InMemorySaver

            self._review_graph = build_graph(self._policy, base_url=self._base_url,
                                             checkpointer=InMemorySaver())
        return self._review_graph

    def _turn(self, result: dict, thread_id: str, start: float) -> ReviewTurn:
        pending = result.get("__interrupt__")
        if pending:
            return ReviewTurn(thread_id=thread_id,
                              request=ReviewRequest.model_validate(pending[0].value))
        return ReviewTurn(thread_id=thread_id, prediction=self._prediction(result, start))

    def review(self, image: ImageInput, *, config: dict | None = None,
               **options) -> ReviewTurn:
        """Locate one image with human review: the run stops before commit and the turn holds
        the :class:`ReviewRequest` (the proposed prediction); answer it with :meth:`resume`."""
        start = time.perf_counter()
        thread_id = uuid.uuid4().hex
        config = self._config(config)
        config["configurable"] = {**config.get("configurable", {}), "thread_id": thread_id}
        request = self._request(image, {**options, "review": True})
        return self._turn(self._reviewing().invoke({"request": request}, config=config),
                          thread_id, start)

    def resume(self, thread_id: str, decision: ReviewDecision | dict) -> ReviewTurn:
        """Answer a review: approve, edit (a place, verified), reject (a reason) or add a clue.
        The next turn is another review (the policy answered again, or the decision was
        refused: its ``request.feedback`` says why) or the committed prediction."""
        start = time.perf_counter()
        decision = ReviewDecision.model_validate(decision)
        config = self._config({"configurable": {"thread_id": thread_id}})
        result = self._reviewing().invoke(Command(resume=decision.model_dump(mode="json")),
                                          config=config)
        return self._turn(result, thread_id, start)

    def correct(self, located: GeoPrediction | str, truth: str, *, note: str = ""):
        """Keep the true place of a photo (``"江苏省苏州市"``) in the local corrections file,
        with the image's hash and the run's evidence: ``located`` is a prediction, or the
        thread id of a :meth:`review` (whose OCR text is kept too). Returns the
        :class:`~sinoloc.agent.corrections.Correction`; ``sinoloc knowledge promote`` turns it
        into a knowledge entry later runs retrieve."""
        from sinoloc.agent.corrections import record_correction

        texts: list[str] = []
        if isinstance(located, str):
            values = self._reviewing().get_state({"configurable": {"thread_id": located}}).values
            if not values.get("prediction"):
                raise ValueError(f"thread {located}: no committed prediction to correct")
            texts = [s.get("text", "") for s in values.get("ocr_spans") or []]
            located = GeoPrediction.model_validate(values["prediction"])
        return record_correction(truth, located, texts=texts, note=note, surface="api")


class ReviewTurn(BaseModel):
    """Where a reviewed run stands: waiting for a decision on ``request``, or committed."""

    thread_id: str
    request: ReviewRequest | None = None
    prediction: GeoPrediction | None = None


__all__ = ["GeoPrediction", "Geolocator", "ImageInputError", "LocateSettings", "ReviewDecision",
           "ReviewTurn"]
