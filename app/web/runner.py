"""The warm half of ``sinoloc serve``: one graph (the chat's checkpointed graph, built behind a
:class:`~sinoloc.agent.boundary.ServeBoundary`) that every request runs on, a bounded number of
runs at a time, and each run turned into the events a page shows.

Events are the chat's (:func:`~sinoloc.app.chat.events.stream_events`: tool calls, model
reasoning, submissions, verdicts, the answer, warnings) plus three the page needs: ``thread`` (first,
as soon as the upload is admitted), ``evidence`` (each item with its id as it is recorded) and
``result`` (the ``GeoPrediction`` and its :class:`~sinoloc.agent.output.mapdata.MapData`). A
request's settings travel in its own run's ``configurable``, so no request can change another's.
"""

from __future__ import annotations

import base64
import threading
import time
from collections.abc import Iterator
from typing import Any

from langgraph.types import Overwrite
from pydantic import BaseModel, Field, ValidationError

from sinoloc.agent.boundary import OPERATOR_ONLY_FIELDS, ClientInputError, ServeBoundary
from sinoloc.agent.graph import build_graph
from sinoloc.agent.output.mapdata import map_data
from sinoloc.agent.schemas import GeoPrediction
from sinoloc.agent.settings import LocateSettings
from sinoloc.app.chat.events import WEB_MODEL_ADVICE, stream_events
from sinoloc.app.chat.threads import ThreadStore, check_thread_id, new_thread_id

RECURSION_LIMIT = 200


class WebEvent(BaseModel):
    """One item of a run's stream, as sent to the browser (SSE ``event:`` is ``kind``)."""

    kind: str
    text: str = ""
    data: dict[str, Any] = Field(default_factory=dict)
    t: float = Field(default=0.0, description="seconds since the request was admitted")


def client_settings(settings: dict | None) -> dict:
    """A client's settings, checked: ``LocateSettings`` fields (not the operator's) and ``llm``;
    raises :class:`ClientInputError` with one line."""
    given = dict(settings or {})
    for name in OPERATOR_ONLY_FIELDS:
        if given.get(name) is not None:
            raise ClientInputError(f"{name}: set by the server's operator, not by a client")
    llm = given.pop("llm", None)
    unknown = sorted(set(given) - set(LocateSettings.model_fields))
    if unknown:
        raise ClientInputError(f"settings: unknown field(s) {', '.join(unknown)[:100]}")
    try:
        checked = LocateSettings.model_validate(given).model_dump(exclude_unset=True)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ClientInputError(f"settings.{where}: {first['msg']}") from exc
    if llm is not None:
        checked["llm"] = llm
    return checked


def as_upload_text(data: bytes) -> str:
    """An uploaded file's bytes as the data: URI the boundary takes (a data: URI, never bare
    base64: a few bytes of bare base64 would read as a file name)."""
    return "data:;base64," + base64.b64encode(data).decode("ascii")


class Runner:
    """The graph, the thread store and the pool every request shares (see the module)."""

    def __init__(self, store: ThreadStore, policy=None, *, boundary: ServeBoundary,
                 defaults: dict | None = None, workers: int = 2):
        self.store = store
        self.boundary = boundary
        self.defaults = dict(defaults or {})
        self.graph = build_graph(policy, checkpointer=store.checkpointer, boundary=boundary)
        self.policy_name = getattr(policy, "name", "deterministic")
        self._slots = threading.BoundedSemaphore(max(1, workers))
        self.workers = max(1, workers)

    # ------------------------------------------------------------------ admission
    def admit(self, image: str, settings: dict | None) -> dict:
        """Check the image and the settings before any run: the ``configurable`` the run will
        use. Raises :class:`ImageInputError` / :class:`ClientInputError` (one line each)."""
        configurable = {**self.defaults, **client_settings(settings)}
        self.boundary.admit({"image_path": image}, configurable)  # the image is stored once here
        return configurable

    def _config(self, thread_id: str, configurable: dict) -> dict:
        return {"configurable": {**configurable, "thread_id": thread_id},
                "recursion_limit": RECURSION_LIMIT}

    # ------------------------------------------------------------------ runs
    def locate_events(self, image: str, configurable: dict, name: str = "uploaded image",
                      thread_id: str | None = None, with_map: bool = True) -> Iterator[WebEvent]:
        """Run an admitted image on a new thread (or ``thread_id``) and stream what happens."""
        thread_id = check_thread_id(thread_id) if thread_id else new_thread_id()
        self.store.record(thread_id, image=name)
        yield from self._run(thread_id, {"request": {"image_path": image}}, configurable, with_map)

    def ask_events(self, thread_id: str, question: str) -> Iterator[WebEvent]:
        """A follow-up question on an existing thread."""
        check_thread_id(thread_id)
        if not self.store.exists(thread_id):
            raise KeyError(thread_id)
        self.store.record(thread_id, question=True)
        yield from self._run(thread_id, {"question": question}, dict(self.defaults))

    def _run(self, thread_id: str, graph_input: dict, configurable: dict,
             with_map: bool = True) -> Iterator[WebEvent]:
        start = time.perf_counter()

        def event(kind: str, text: str = "", data: dict | None = None) -> WebEvent:
            return WebEvent(kind=kind, text=text, data=data or {},
                            t=round(time.perf_counter() - start, 4))

        yield event("thread", thread_id, {"thread_id": thread_id, "policy": self.policy_name})
        answer, seen = None, set[str]()
        with self._slots:  # a bounded pool: further requests wait here, in their own thread
            yield event("running", "started", {"waited_s": round(time.perf_counter() - start, 4)})
            try:
                # checkpoints are written once, when the run ends (a thread is resumed between
                # runs, never inside one): a dozen SQLite writes of the state fewer per image
                for mode, chunk in self.graph.stream(graph_input, self._config(thread_id, configurable),
                                                     stream_mode=["custom", "updates"],
                                                     durability="exit"):
                    for item in _new_evidence(mode, chunk, seen):
                        yield event("evidence", f"{item['id']} {item['kind']}: {item['text']}", item)
                    for e in stream_events(mode, chunk, WEB_MODEL_ADVICE):
                        if e.kind == "answer":
                            answer = e.text
                        yield event(e.kind, e.text, e.data)
            except (ClientInputError, ValueError) as exc:
                yield event("error", str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
                return
        prediction = self.prediction(thread_id)
        if answer is not None and prediction is not None:
            self.store.record(thread_id, answer=answer)
            yield event("result", answer, {"prediction": prediction.model_dump(mode="json"), "map": (
                map_data(prediction).model_dump(mode="json") if with_map else None)})
        elif prediction is not None:  # a question answered in words: the answer stands
            yield event("done", "", {"thread_id": thread_id})

    def locate(self, image: str, configurable: dict,
               name: str = "uploaded image") -> tuple[GeoPrediction, str]:
        """Run to the end: the prediction and its thread (the JSON API's ``POST /api/locate``)."""
        result, thread_id = None, None
        for e in self.locate_events(image, configurable, name, with_map=False):
            if e.kind == "thread":
                thread_id = e.text
            if e.kind == "error":
                raise ClientInputError(e.text)
            if e.kind == "result":
                result = e.data["prediction"]
        if result is None or thread_id is None:
            raise RuntimeError("the graph ended without a prediction")
        return GeoPrediction.model_validate(result), thread_id

    # ------------------------------------------------------------------ what a thread holds
    def values(self, thread_id: str) -> dict:
        state = self.graph.get_state({"configurable": {"thread_id": thread_id}})
        return state.values or {}

    def prediction(self, thread_id: str) -> GeoPrediction | None:
        data = self.values(thread_id).get("prediction")
        return GeoPrediction.model_validate(data) if data else None


def _new_evidence(mode: str, chunk: Any, seen: set[str]) -> list[dict]:
    """Evidence items recorded by a node update that the stream has not shown yet."""
    if mode != "updates" or not isinstance(chunk, dict):
        return []
    out = []
    for update in chunk.values():
        if not isinstance(update, dict):
            continue
        items = update.get("evidence")
        items = items.value if isinstance(items, Overwrite) else items
        for item in items or []:
            item = item.model_dump(mode="json") if isinstance(item, BaseModel) else item
            if isinstance(item, dict) and item.get("id") and item["id"] not in seen:
                seen.add(item["id"])
                out.append({k: item.get(k) for k in ("id", "kind", "text", "source", "point",
                                                     "weight", "confidence", "detail")})
    return out
