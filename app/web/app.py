"""The HTTP face of ``sinoloc serve`` (FastAPI): the page, its static files, the JSON API and the
event stream (server-sent events over a POST, read by the page with ``fetch``).

Routes: ``GET /`` the page; ``GET /static/…`` its scripts, styles and the vendored Leaflet;
``POST /api/locate`` (multipart ``image`` [+ ``settings`` as JSON text] or JSON ``{"image":
"data:…", "settings": {…}}``) → the ``GeoPrediction`` (its thread kept unless
``?thread=false``); ``POST /api/locate/stream`` → the run's events; ``GET /api/threads``;
``GET /api/threads/{id}`` (prediction, map, transcript);
``POST /api/threads/{id}/ask`` → events; ``POST /api/threads/{id}/review`` (a decision on the
answer waiting for review, with the ``review`` setting) → events; ``POST /api/threads/{id}/truth``
(the photo's true place, kept as a correction); ``GET /api/map/base`` the province outlines; with
``--runs`` the eval report viewer (app/web/runs.py: ``/runs``, ``/api/runs…``); ``GET /api/config``
what the page may offer (the runs viewer or not);
``GET /openapi.json`` and ``GET /docs`` (a local page: FastAPI's own docs load from a CDN).

Errors are ``{"error": "one line"}`` with a 4xx status (503 when too many runs wait). Host names,
the token, the origin of state-changing requests and body caps are checked for every request by
app/web/guard.py; runs go through the runner's worker pool (app/web/runner.py), and a run whose
client goes away is dropped or stopped at its next step.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Sequence
from functools import lru_cache
from pathlib import Path

from fastapi import APIRouter, FastAPI, Query, Request
from fastapi.responses import FileResponse, JSONResponse, Response, StreamingResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field

from sinoloc.agent.boundary import ClientInputError
from sinoloc.agent.llm.spec import LlmSpecError
from sinoloc.agent.output.mapdata import base_layer, map_data
from sinoloc.agent.review import ReviewDecision
from sinoloc.app.chat.threads import ThreadIdError, ThreadInfo, check_thread_id
from sinoloc.app.web import static_dir
from sinoloc.app.web.guard import Guard
from sinoloc.app.web.runner import Busy, Runner, RunTicket, WebEvent, as_upload_text, prediction_of
from sinoloc.tools.images import ImageInputError

log = logging.getLogger(__name__)
BODY_SLACK = 64 * 1024  # multipart headers and the settings field around an upload
THREADS_PAGE = 50


class LocateBody(BaseModel):
    image: str = Field(description="the image as a data: URI or base64, or a file name in the "
                       "server's images folder (SINOLOC_IMAGES_ROOT)")
    settings: dict = Field(default_factory=dict, description=(
        "LocateSettings fields (top_k, ignore_exif, budgets, …; not prior) and llm"))


class AskBody(BaseModel):
    question: str = Field(min_length=1, max_length=2000)


class TruthBody(BaseModel):
    place: str = Field(min_length=2, max_length=200, description="江苏省苏州市, a district or an adcode")


class ThreadView(BaseModel):
    thread_id: str
    prediction: dict | None
    map: dict | None
    transcript: list[dict]


class PageConfig(BaseModel):
    runs: bool = Field(description="the eval runs viewer is mounted (serve --runs)")
    policy: str = Field(description="the policy that answers (a model, or the offline one)")


class TooLarge(ImageInputError):
    """An upload over the server's size limit (answered 413)."""


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def _sse_line(e: WebEvent) -> str:
    return f"event: {e.kind}\ndata: {e.model_dump_json()}\n\n"


async def _sse(first: WebEvent | None, ticket: RunTicket) -> AsyncIterator[str]:
    """Server-sent events of a run; when the client goes away, Starlette stops this iterator and
    the ticket is cancelled (runner.py: a queued run is dropped, a running one stops)."""
    try:
        if first is not None:
            yield _sse_line(first)
        async for e in ticket.events():
            yield _sse_line(e)
    finally:
        ticket.cancel()


async def _until_disconnected(request: Request, ticket: RunTicket) -> None:
    """Cancel ``ticket`` when the client of a non-streamed request goes away."""
    while (await request.receive())["type"] != "http.disconnect":
        pass
    ticket.cancel()


LOCATE_BODY = {"requestBody": {"required": True, "content": {
    "application/json": {"schema": LocateBody.model_json_schema()},
    "multipart/form-data": {"schema": {"type": "object", "required": ["image"], "properties": {
        "image": {"type": "string", "format": "binary"},
        "settings": {"type": "string", "description": "LocateSettings as JSON text"}}}}}}}


def create_app(runner: Runner, *, token: str | None = None,
               routers: Sequence[APIRouter] = (), allowed_origins: Sequence[str] = (),
               body_timeout_s: float = 60.0) -> FastAPI:
    """The app; ``routers`` add routes under the same guard (the eval report viewer of
    ``--runs``, mounted by the CLI only when asked for). ``allowed_origins`` are other origins
    whose pages may start runs (app/web/guard.py)."""
    app = FastAPI(title="sinoloc", summary="Locate photos taken in China, showing the work.",
                  docs_url=None, redoc_url=None)
    app.state.runner = runner
    limit = runner.boundary.upload_max_bytes
    app.add_middleware(Guard, token=token, upload_limit=limit * 4 // 3 + BODY_SLACK,
                       allowed_origins=allowed_origins, body_timeout_s=body_timeout_s)

    @app.exception_handler(Busy)
    async def busy(_request: Request, exc: Busy):
        return _error(503, str(exc))

    @app.exception_handler(ImageInputError)
    async def bad_input(_request: Request, exc: ImageInputError):
        return _error(413 if isinstance(exc, TooLarge) else 400, str(exc).splitlines()[0])

    @app.exception_handler(ThreadIdError)
    async def bad_thread(_request: Request, exc: ThreadIdError):
        return _error(400, str(exc).replace("--thread ", "thread "))

    @app.exception_handler(LlmSpecError)
    async def bad_llm(_request: Request, exc: LlmSpecError):
        return _error(400, f"llm: {exc}")

    app.mount("/static", StaticFiles(directory=static_dir()), name="static")

    @app.get("/", include_in_schema=False)
    def page():
        return FileResponse(static_dir() / "index.html")

    @app.get("/docs", include_in_schema=False)
    def docs():
        return FileResponse(static_dir() / "docs.html")

    async def read_input(request: Request) -> tuple[str, dict, str]:
        """(image text, settings, a name to show) from a multipart or a JSON body."""
        if request.headers.get("content-type", "").startswith("multipart/form-data"):
            form = await request.form(max_files=1, max_fields=4)
            upload = form.get("image")
            if upload is None or isinstance(upload, str):
                raise ImageInputError("image: send the image file in the form field 'image'")
            data = await upload.read(limit + 1)
            if len(data) > limit:
                raise TooLarge(f"upload: over the {limit / 2**20:.0f} MB limit")
            settings = _settings_field(form.get("settings"))
            name = "".join(c for c in (upload.filename or "upload") if c.isprintable())[:80]
            return as_upload_text(data), settings, name
        try:
            body = LocateBody.model_validate(await request.json())
        except ValueError as exc:
            raise ImageInputError('body: send JSON {"image": "data:image/jpeg;base64,…"} or a '
                                  "multipart form with an 'image' file") from exc
        return body.image, body.settings, "uploaded image"

    @app.post("/api/locate", openapi_extra=LOCATE_BODY, summary="locate one image")
    async def locate(request: Request, thread: bool = Query(True, description=(
            "keep the run as a thread (listed, open to follow-up questions and review); "
            "false: a one-shot answer that leaves no thread behind"))):
        """The ``GeoPrediction``; its thread (for follow-up questions) in ``X-Sinoloc-Thread``.

        A call keeps its thread by default, as the page's uploads do: the header is how a script
        asks follow-ups or reviews, and the threads list is the server's, whoever started them.
        A script sending many images it will not ask about passes ``?thread=false``: the run's
        thread is removed once its answer is read, so the page's list is not flooded."""
        image, settings, name = await read_input(request)
        if not thread and settings.get("review"):
            raise ImageInputError("settings: review needs a thread (drop ?thread=false)")
        configurable = await asyncio.to_thread(runner.admit, image, settings)
        thread_id, ticket = runner.start_locate(image, configurable, name,
                                                loop=asyncio.get_running_loop(), with_map=False)
        watcher = asyncio.create_task(_until_disconnected(request, ticket))
        try:
            events = [e async for e in ticket.events()]
        finally:
            watcher.cancel()
        if not thread:  # the run is over (its events ended): nothing writes to it any more
            await asyncio.to_thread(runner.store.delete, [thread_id])
        prediction = prediction_of(events, thread_id)
        return JSONResponse(prediction.model_dump(mode="json"),
                            headers={"X-Sinoloc-Thread": thread_id} if thread else None)

    @app.post("/api/locate/stream", openapi_extra=LOCATE_BODY,
              summary="locate one image, streaming the run as server-sent events")
    async def locate_stream(request: Request):
        image, settings, name = await read_input(request)
        configurable = await asyncio.to_thread(runner.admit, image, settings)
        thread_id, ticket = runner.start_locate(image, configurable, name,
                                                loop=asyncio.get_running_loop())
        first = WebEvent(kind="thread", text=thread_id,
                         data={"thread_id": thread_id, "policy": runner.policy_name})
        return StreamingResponse(_sse(first, ticket), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-store"})

    @app.get("/api/threads", summary="the threads, most recent first, a page at a time")
    def threads(limit: int = Query(THREADS_PAGE, ge=1, le=200),
                before: float | None = Query(None, description=(
                    "only threads last used before this time (the last item's 'updated')"))
                ) -> list[ThreadInfo]:
        return runner.store.threads(limit=limit, before=before)

    @app.get("/api/threads/{thread_id}", summary="a thread's answer, map and transcript",
             response_model=ThreadView)
    def thread(thread_id: str) -> ThreadView | JSONResponse:
        check_thread_id(thread_id)
        if not runner.store.exists(thread_id):
            return _error(404, f"thread {thread_id}: no such thread")
        values = runner.values(thread_id)
        prediction = runner.prediction(thread_id)
        return ThreadView(thread_id=thread_id,
                          prediction=prediction.model_dump(mode="json") if prediction else None,
                          map=map_data(prediction).model_dump(mode="json") if prediction else None,
                          transcript=list(values.get("transcript") or []))

    @app.get("/api/threads/{thread_id}/photo", summary="the photo of a thread's answer (JPEG)",
             response_class=Response, responses={200: {"content": {"image/jpeg": {}}}})
    def photo(thread_id: str) -> Response:
        """The image the thread's current answer is about, downscaled (at most 1600 px) for the
        page to draw its text's boxes on after a reload; only an image this server keeps (an
        upload in its store, named by its content hash, or a file in its images folder)."""
        check_thread_id(thread_id)
        if not runner.store.exists(thread_id):
            return _error(404, f"thread {thread_id}: no such thread")
        data = _thread_photo(runner, thread_id)
        if data is None:
            return _error(404, f"thread {thread_id}: its photo is no longer kept")
        # same-origin only: another site's page cannot even embed it (CORP), nor learn by an
        # <img> whether a thread exists beyond the 404 every missing one gets
        return Response(data, media_type="image/jpeg", headers={
            "Cache-Control": "private, max-age=3600", "X-Content-Type-Options": "nosniff",
            "Cross-Origin-Resource-Policy": "same-origin"})

    @app.post("/api/threads/{thread_id}/ask", summary="a follow-up question, streamed as events")
    async def ask(thread_id: str, body: AskBody):
        check_thread_id(thread_id)
        if not runner.store.exists(thread_id):
            return _error(404, f"thread {thread_id}: no such thread")
        ticket = runner.start_ask(thread_id, body.question, loop=asyncio.get_running_loop())
        first = WebEvent(kind="thread", text=thread_id,
                         data={"thread_id": thread_id, "policy": runner.policy_name})
        return StreamingResponse(_sse(first, ticket), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-store"})

    @app.post("/api/threads/{thread_id}/review", summary="decide on the answer waiting for "
              "review (approve, edit, reject, clue), streamed as events")
    async def review(thread_id: str, body: ReviewDecision):
        try:
            ticket = runner.start_review(thread_id, body.model_dump(mode="json"),
                                         loop=asyncio.get_running_loop())
        except KeyError:
            return _error(404, f"thread {thread_id}: no such thread")
        except ClientInputError as exc:
            return _error(409, str(exc))
        return StreamingResponse(_sse(None, ticket), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-store"})

    @app.post("/api/threads/{thread_id}/truth", summary="keep the photo's true place as a "
              "correction (sinoloc knowledge corrections lists them)")
    def truth(thread_id: str, body: TruthBody):
        try:
            kept = runner.record_truth(thread_id, body.place)
        except KeyError:
            return _error(404, f"thread {thread_id}: no such thread")
        return {"id": kept.id, "truth": kept.truth, "adcode": kept.truth_adcode}

    has_runs = any(getattr(route, "path", "").startswith("/api/runs")
                   for router in routers for route in router.routes)

    @app.get("/api/config", summary="what this server offers the page")
    def config() -> PageConfig:
        """The page asks here instead of probing (a 404 for ``/api/runs`` on every load without
        ``--runs`` would be a console error)."""
        return PageConfig(runs=has_runs, policy=runner.policy_name)

    @app.get("/api/map/base", summary="province outlines (WGS-84 GeoJSON) under every map")
    def base() -> dict:
        return _base_json()

    for router in routers:
        app.include_router(router)
    return app


def _thread_photo(runner: Runner, thread_id: str) -> bytes | None:
    """The JPEG of the thread's current image, or None (no image, one the boundary does not
    hold, or gone from the upload store)."""
    image = runner.values(thread_id).get("image") or {}
    path, sha256 = image.get("path"), image.get("sha256")
    try:
        runner.boundary.check_image_path(path, sha256)
    except ClientInputError:
        return None
    # pruned from the upload store: gone, although a decoded copy may linger in memory
    if not isinstance(path, str) or not Path(path).is_file():
        return None
    return _photo_jpeg(path, sha256)


@lru_cache(maxsize=16)
def _photo_jpeg(path: str, sha256: str | None) -> bytes | None:
    """A thread's photo, encoded once (a page reloaded many times does not decode it again)."""
    from sinoloc.app.web.mapview import photo_jpeg

    return photo_jpeg(path, sha256)


@lru_cache(maxsize=1)
def _base_json() -> dict:
    return base_layer()


def _settings_field(value) -> dict:
    if value is None or value == "":
        return {}
    try:
        parsed = json.loads(value if isinstance(value, str) else "")
    except ValueError as exc:
        raise ImageInputError("settings: not JSON text") from exc
    if not isinstance(parsed, dict):
        raise ImageInputError("settings: a JSON object of LocateSettings fields")
    return parsed
