"""The warm half of ``sinoloc serve``: one graph (the chat's checkpointed graph, built behind a
:class:`~sinoloc.agent.boundary.ServeBoundary`) that every request runs on, a fixed pool of
worker threads that run them, and each run turned into the events a page shows.

Events are the chat's (:func:`~sinoloc.app.chat.events.stream_events`: tool calls, model
reasoning, submissions, verdicts, the answer, warnings) plus three the page needs: ``thread`` (first,
as soon as the upload is admitted), ``evidence`` (each item with its id as it is recorded) and
``result`` (the ``GeoPrediction`` and its :class:`~sinoloc.agent.output.mapdata.MapData`). A
request's settings travel in its own run's ``configurable``, so no request can change another's.

Runs and clients (the rule): an admitted run waits in a bounded queue (further requests are
answered 503) without holding a thread; ``workers`` threads take runs in order. Each run has a
:class:`RunTicket`; the HTTP side cancels it when its client goes away. A cancelled run that has
not started is dropped when a worker reaches it; a running one stops at its next step (the graph's
stream is closed between nodes and tool calls, so at most the step under way finishes). The
worker is free again on every path: finished, failed, cancelled or dropped.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import queue
import sqlite3
import threading
import time
from collections.abc import AsyncIterator, Callable, Generator, Iterable, Iterator
from contextlib import nullcontext
from typing import Any

from langgraph.types import Command, Overwrite
from pydantic import BaseModel, Field, ValidationError

from sinoloc.agent.boundary import OPERATOR_ONLY_FIELDS, ClientInputError, ServeBoundary
from sinoloc.agent.corrections import Correction, CorrectionsError, record_correction
from sinoloc.agent.graph import RECURSION_LIMIT, build_graph
from sinoloc.agent.output.mapdata import map_data
from sinoloc.agent.review import ReviewDecision
from sinoloc.agent.schemas import GeoPrediction
from sinoloc.agent.settings import LocateSettings
from sinoloc.app.chat.events import WEB_MODEL_ADVICE, graph_stream, stream_events
from sinoloc.app.chat.threads import ThreadStore, check_thread_id, new_thread_id
from sinoloc.app.web.thread_records import RECORD_SETTING, RunKind, ThreadRecords, record_opt_in
from sinoloc.tools.images import ImageInputError

log = logging.getLogger(__name__)


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


class Busy(Exception):
    """Too many runs are waiting (answered 503)."""


class RunTicket:
    """One admitted run: its events (for the HTTP side) and its cancellation (by the HTTP side).
    ``emit`` is called from the worker thread; ``events`` is read on the event loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop | None = None):
        self._loop = loop
        self._cancelled = threading.Event()
        self._sync: queue.SimpleQueue = queue.SimpleQueue()
        self._async: asyncio.Queue | None = asyncio.Queue() if loop is not None else None
        self.started = False
        self.dropped = False

    def cancel(self) -> None:
        self._cancelled.set()

    @property
    def cancelled(self) -> bool:
        return self._cancelled.is_set()

    def emit(self, event: WebEvent | None) -> None:
        """Hand an event (None: the end) to the side that reads them."""
        if self._async is not None and self._loop is not None:
            try:
                self._loop.call_soon_threadsafe(self._async.put_nowait, event)
            except RuntimeError:  # the loop is closed: nobody reads any more
                self.cancel()
        else:
            self._sync.put(event)

    async def events(self) -> AsyncIterator[WebEvent]:
        """The run's events as they happen; the run is cancelled when the reader stops early
        (its client went away)."""
        assert self._async is not None, "a ticket made without a loop is read with sync_events"
        try:
            while (event := await self._async.get()) is not None:
                yield event
        finally:
            self.cancel()

    def sync_events(self) -> Iterator[WebEvent]:
        try:
            while (event := self._sync.get()) is not None:
                yield event
        finally:
            self.cancel()


class Runner:
    """The graph, the thread store and the worker pool every request shares (see the module)."""

    def __init__(self, store: ThreadStore, policy=None, *, boundary: ServeBoundary,
                 defaults: dict | None = None, workers: int = 2, max_waiting: int | None = None,
                 records: ThreadRecords | None = None):
        self.store = store
        self.records = records  # the operator's --record-dir: threads that opt in record there
        self.boundary = boundary
        self.defaults = dict(defaults or {})
        self.graph = build_graph(policy, checkpointer=store.checkpointer, boundary=boundary)
        self.policy_name = getattr(policy, "name", "deterministic")
        self.workers = max(1, workers)
        self.max_waiting = max_waiting if max_waiting is not None else 16 * self.workers
        self._jobs: queue.SimpleQueue = queue.SimpleQueue()
        self._count_lock = threading.Lock()
        self.waiting = 0  # admitted runs no worker has taken yet
        self.running = 0
        self.dropped = 0  # runs whose client went away before they started
        self._queued: set[RunTicket] = set()
        for i in range(self.workers):
            threading.Thread(target=self._work, name=f"sinoloc-run-{i}", daemon=True).start()

    # ------------------------------------------------------------------ admission
    def admit(self, image: str, settings: dict | None) -> dict:
        """Check the settings, the model and the image's header before any run (no pixel is
        decoded and nothing is stored here): the ``configurable`` the run will use. Raises
        :class:`ImageInputError` / :class:`ClientInputError` (one line each). A client's
        ``record: true`` (thread_records.py) is kept as the configurable's ``record``."""
        settings, record = record_opt_in(settings or {}, self.records)
        configurable = self.boundary.limit({**self.defaults, **client_settings(settings)})
        self.boundary.precheck({"image_path": image}, configurable)
        return {**configurable, RECORD_SETTING: True} if record else configurable

    def _config(self, thread_id: str, configurable: dict) -> dict:
        return {"configurable": {**configurable, "thread_id": thread_id},
                "recursion_limit": RECURSION_LIMIT}

    # ------------------------------------------------------------------ the pool
    def submit(self, steps: Callable[[], Generator[WebEvent]], ticket: RunTicket) -> RunTicket:
        """Queue a run (``steps`` makes its event generator when a worker takes it); raises
        :class:`Busy` when too many runs wait already."""
        with self._count_lock:
            if self.waiting >= self.max_waiting:
                raise Busy(f"busy: {self.waiting} runs are waiting; try again later")
            self.waiting += 1
            self._queued.add(ticket)
        self._jobs.put((steps, ticket, time.perf_counter()))
        return ticket

    def queued(self) -> list[RunTicket]:
        """The tickets of the runs no worker has taken yet."""
        with self._count_lock:
            return list(self._queued)

    def _work(self) -> None:
        while True:
            steps, ticket, queued = self._jobs.get()
            with self._count_lock:
                self.waiting -= 1
                self._queued.discard(ticket)
                dropped = ticket.cancelled
                self.dropped += dropped
                self.running += not dropped
            if dropped:  # the client went away while the run waited: never started
                ticket.dropped = True
                ticket.emit(None)
                continue
            try:
                ticket.started = True
                self._drive(steps, ticket, queued)
            finally:
                with self._count_lock:
                    self.running -= 1
                ticket.emit(None)

    @staticmethod
    def _drive(steps: Callable[[], Generator[WebEvent]], ticket: RunTicket, queued: float) -> None:
        events = steps()
        try:
            ticket.emit(WebEvent(kind="running", text="started", data={
                "waited_s": round(time.perf_counter() - queued, 4)}))
            for event in events:
                ticket.emit(event)
                if ticket.cancelled:  # the client is gone: stop at this step
                    break
        except Exception as exc:  # the run failed: the client gets one line, the log the rest
            if isinstance(exc, ImageInputError):
                text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            else:
                log.exception("run failed")
                text = f"internal error ({exc.__class__.__name__}); the server's log has the details"
            ticket.emit(WebEvent(kind="error", text=text))
        finally:
            events.close()  # closes the graph's stream: nothing runs on after this

    # ------------------------------------------------------------------ runs
    def start_locate(self, image: str, configurable: dict, name: str = "uploaded image",
                     loop: asyncio.AbstractEventLoop | None = None,
                     with_map: bool = True) -> tuple[str, RunTicket]:
        """Queue an admitted image on a new thread: (thread id, ticket)."""
        thread_id = new_thread_id()
        ticket = RunTicket(loop)
        configurable = dict(configurable)
        record = configurable.pop(RECORD_SETTING, False) is True
        self.submit(lambda: self._locate_steps(thread_id, image, configurable, name, with_map,
                                               record), ticket)
        return thread_id, ticket

    def start_ask(self, thread_id: str, question: str,
                  loop: asyncio.AbstractEventLoop | None = None) -> RunTicket:
        """Queue a follow-up question on an existing thread."""
        check_thread_id(thread_id)
        if not self.store.exists(thread_id):
            raise KeyError(thread_id)
        ticket = RunTicket(loop)
        self.submit(lambda: self._ask_steps(thread_id, question), ticket)
        return ticket

    def _locate_steps(self, thread_id: str, image: str, configurable: dict, name: str,
                      with_map: bool, record: bool = False) -> Generator[WebEvent]:
        self.store.record(thread_id, image=name)
        with self.records.run(thread_id, "locate", image, configurable) if record and self.records \
                else nullcontext():
            yield from self._run(thread_id, {"request": {"image_path": image}}, configurable,
                                 with_map)

    def _ask_steps(self, thread_id: str, question: str) -> Generator[WebEvent]:
        self.store.record(thread_id, question=True)
        yield from self._later_run(thread_id, "ask", {"question": question})

    def _later_run(self, thread_id: str, kind: RunKind, graph_input) -> Generator[WebEvent]:
        """A follow-up or a review: recorded, what it asked included, if its thread opted in."""
        asked = graph_input if kind == "ask" else {"decision": graph_input.resume}
        with self.records.run(thread_id, kind, data=asked) if self.records else nullcontext():
            yield from self._run(thread_id, graph_input, dict(self.defaults))

    def start_review(self, thread_id: str, decision: dict,
                     loop: asyncio.AbstractEventLoop | None = None) -> RunTicket:
        """Queue a person's decision on the thread's pending review (agent/review.py). Raises
        KeyError (no such thread), ClientInputError (nothing waits, or a malformed decision)
        before anything runs."""
        check_thread_id(thread_id)
        if not self.store.exists(thread_id):
            raise KeyError(thread_id)
        try:
            checked = ReviewDecision.model_validate(decision)
        except ValidationError as exc:
            raise ClientInputError(f"review: {exc.errors()[0]['msg']}") from exc
        if not any(isinstance(i.value, dict) and i.value.get("kind") == "review"
                   for i in self.graph.get_state(self._config(thread_id, {})).interrupts):
            raise ClientInputError("review: nothing waits for review on this thread")
        ticket = RunTicket(loop)
        resume: Command = Command(resume=checked.model_dump(mode="json"))
        self.submit(lambda: self._later_run(thread_id, "review", resume), ticket)
        return ticket

    def record_truth(self, thread_id: str, place: str) -> Correction:
        """Keep the true place of the thread's photo in the local corrections file."""
        check_thread_id(thread_id)
        if not self.store.exists(thread_id):
            raise KeyError(thread_id)
        values = self.values(thread_id)
        prediction = self.prediction(thread_id)
        if prediction is None:
            raise ClientInputError("truth: this thread has no committed answer yet")
        texts = [s.get("text", "") for s in values.get("ocr_spans") or []]
        try:
            return record_correction(place, prediction, texts=texts, surface="web")
        except CorrectionsError as exc:
            raise ClientInputError(f"truth: {exc}") from exc

    def _run(self, thread_id: str, graph_input: dict | Command, configurable: dict,
             with_map: bool = True) -> Generator[WebEvent]:
        start = time.perf_counter()

        def event(kind: str, text: str = "", data: dict | None = None) -> WebEvent:
            return WebEvent(kind=kind, text=text, data=data or {},
                            t=round(time.perf_counter() - start, 4))

        answer, seen = None, set[str]()
        # checkpoints are written once, when the run ends (a thread is resumed between runs,
        # never inside one): a dozen SQLite writes of the state fewer per image
        stream = graph_stream(self.graph, graph_input, self._config(thread_id, configurable),
                              durability="exit")
        try:
            for mode, chunk in stream:
                for item in _new_evidence(mode, chunk, seen):
                    yield event("evidence", f"{item['id']} {item['kind']}: {item['text']}", item)
                for e in stream_events(mode, chunk, WEB_MODEL_ADVICE):
                    if e.kind == "answer":
                        answer = e.text
                    yield event(e.kind, e.text, e.data)
        except (ClientInputError, ValueError) as exc:
            yield event("error", str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
            return
        finally:
            stream.close()
        try:  # one checkpoint per thread; the store within its bounds (never the run's failure)
            self.store.compact(thread_id)
            self.store.prune()
        except sqlite3.Error:
            log.warning("thread store: compaction failed; retried after the next run", exc_info=True)
        prediction = self.prediction(thread_id)
        if answer is not None and prediction is not None:
            self.store.record(thread_id, answer=answer)
            yield event("result", answer, {"prediction": prediction.model_dump(mode="json"), "map": (
                map_data(prediction).model_dump(mode="json") if with_map else None)})
        elif prediction is not None:  # a question answered in words: the answer stands
            yield event("done", "", {"thread_id": thread_id})

    def locate(self, image: str, configurable: dict,
               name: str = "uploaded image") -> tuple[GeoPrediction, str]:
        """Run to the end in the calling thread's wait: the prediction and its thread (a run
        that stops for review raises: nothing is committed until a person decides)."""
        thread_id, ticket = self.start_locate(image, configurable, name, with_map=False)
        return prediction_of(ticket.sync_events(), thread_id), thread_id

    # ------------------------------------------------------------------ what a thread holds
    def values(self, thread_id: str) -> dict:
        state = self.graph.get_state({"configurable": {"thread_id": thread_id}})
        return state.values or {}

    def prediction(self, thread_id: str) -> GeoPrediction | None:
        data = self.values(thread_id).get("prediction")
        return GeoPrediction.model_validate(data) if data else None


def prediction_of(events: Iterable[WebEvent], thread_id: str = "") -> GeoPrediction:
    """The prediction a run's events end with (the JSON API's ``POST /api/locate``); a run's
    error event, or its stop for review, is raised as :class:`ClientInputError`."""
    result = None
    for e in events:
        if e.kind == "error":
            raise ClientInputError(e.text)
        if e.kind == "result":
            result = e.data["prediction"]
        if e.kind == "review":  # nothing is committed until a person decides
            raise ClientInputError(f"review: the answer waits for review on thread "
                                   f"{thread_id} (POST /api/threads/{thread_id}/review)")
    if result is None:
        raise RuntimeError("the graph ended without a prediction")
    return GeoPrediction.model_validate(result)


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
