"""The HTTP face of ``sinoloc serve`` (FastAPI): the page, its static files, the JSON API and the
event stream (server-sent events over a POST, read by the page with ``fetch``).

Routes: ``GET /`` the page; ``GET /static/…`` its scripts, styles and the vendored Leaflet;
``POST /api/locate`` (multipart ``image`` [+ ``settings`` as JSON text] or JSON ``{"image":
"data:…", "settings": {…}}``) → the ``GeoPrediction``; ``POST /api/locate/stream`` → the run's
events; ``GET /api/threads``; ``GET /api/threads/{id}`` (prediction, map, transcript);
``POST /api/threads/{id}/ask`` → events; ``POST /api/threads/{id}/review`` (a decision on the
answer waiting for review, with the ``review`` setting) → events; ``POST /api/threads/{id}/truth``
(the photo's true place, kept as a correction); ``GET /api/map/base`` the province outlines; with
``--runs`` the eval report viewer (app/web/runs.py: ``/runs``, ``/api/runs…``);
``GET /openapi.json`` and ``GET /docs`` (a local page: FastAPI's own docs load from a CDN).

Errors are ``{"error": "one line"}`` with a 4xx status. With a token (required beyond
loopback) every request carries it (``Authorization: Bearer``, the ``sinoloc_token`` cookie set
when the page is opened with ``?token=``, or ``?token=``); without one only loopback host names
are answered (a page elsewhere cannot reach the server by rebinding a name to 127.0.0.1).
"""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Iterator, Sequence
from functools import lru_cache
from urllib.parse import urlsplit

from fastapi import APIRouter, FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, JSONResponse, StreamingResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field

from sinoloc.agent.boundary import ClientInputError
from sinoloc.agent.llm.spec import LlmSpecError
from sinoloc.agent.output.mapdata import base_layer, map_data
from sinoloc.agent.review import ReviewDecision
from sinoloc.app.chat.threads import ThreadIdError, ThreadInfo, check_thread_id
from sinoloc.app.web import static_dir
from sinoloc.app.web.runner import Runner, WebEvent, as_upload_text
from sinoloc.tools.images import ImageInputError
from sinoloc.tools.privacy import is_loopback_host

log = logging.getLogger(__name__)
TOKEN_COOKIE = "sinoloc_token"
BODY_SLACK = 64 * 1024  # multipart headers and the settings field around an upload


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


class TooLarge(ImageInputError):
    """An upload over the server's size limit (answered 413)."""


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def _sse(events: Iterator[WebEvent]) -> Iterator[str]:
    """Server-sent events; a failure mid-run ends the stream with one ``error`` event (a
    client's bad input in its own words, anything else by its class only: the traceback stays
    in the server's log)."""
    try:
        for e in events:
            yield f"event: {e.kind}\ndata: {e.model_dump_json()}\n\n"
    except Exception as exc:  # the response has started: report in the stream, not a status
        if isinstance(exc, ImageInputError):
            text = str(exc).splitlines()[0]
        else:
            log.exception("run failed")
            text = f"internal error ({exc.__class__.__name__}); the server's log has the details"
        yield f"event: error\ndata: {json.dumps({'kind': 'error', 'text': text})}\n\n"


LOCATE_BODY = {"requestBody": {"required": True, "content": {
    "application/json": {"schema": LocateBody.model_json_schema()},
    "multipart/form-data": {"schema": {"type": "object", "required": ["image"], "properties": {
        "image": {"type": "string", "format": "binary"},
        "settings": {"type": "string", "description": "LocateSettings as JSON text"}}}}}}}


def create_app(runner: Runner, *, token: str | None = None,
               routers: Sequence[APIRouter] = ()) -> FastAPI:
    """The app; ``routers`` add routes under the same token / loopback rules (the eval report
    viewer of ``--runs``, which lives in eval/ and is imported by the CLI only when asked for)."""
    app = FastAPI(title="sinoloc", summary="Locate photos taken in China, showing the work.",
                  docs_url=None, redoc_url=None)
    app.state.runner = runner
    if not token:
        @app.middleware("http")
        async def loopback_names_only(request: Request, call_next):
            try:
                host = urlsplit("//" + request.headers.get("host", "")).hostname
            except ValueError:
                host = None
            if not is_loopback_host(host):
                return _error(400, "this server answers loopback host names only")
            return await call_next(request)
    else:
        @app.middleware("http")
        async def require_token(request: Request, call_next):
            given = (request.headers.get("authorization", "").removeprefix("Bearer ").strip()
                     or request.cookies.get(TOKEN_COOKIE) or request.query_params.get("token") or "")
            if not secrets.compare_digest(given.encode(), token.encode()):
                return _error(401, "this server needs its token (open the URL it printed)")
            response = await call_next(request)
            if request.query_params.get("token"):
                response.set_cookie(TOKEN_COOKIE, token, httponly=True, samesite="strict")
            return response

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
        limit = runner.boundary.upload_max_bytes
        length = request.headers.get("content-length")
        if length and length.isdigit() and int(length) > limit * 4 // 3 + BODY_SLACK:
            raise TooLarge(f"upload: over the {limit / 2**20:.0f} MB limit")
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
    async def locate(request: Request):
        """The ``GeoPrediction``; its thread (for follow-up questions) in ``X-Sinoloc-Thread``."""
        image, settings, name = await read_input(request)
        configurable = await run_in_threadpool(runner.admit, image, settings)
        prediction, thread_id = await run_in_threadpool(runner.locate, image, configurable, name)
        return JSONResponse(prediction.model_dump(mode="json"),
                            headers={"X-Sinoloc-Thread": thread_id})

    @app.post("/api/locate/stream", openapi_extra=LOCATE_BODY,
              summary="locate one image, streaming the run as server-sent events")
    async def locate_stream(request: Request):
        image, settings, name = await read_input(request)
        configurable = await run_in_threadpool(runner.admit, image, settings)
        return StreamingResponse(_sse(runner.locate_events(image, configurable, name)),
                                 media_type="text/event-stream",
                                 headers={"Cache-Control": "no-store"})

    @app.get("/api/threads", summary="the threads, most recent first")
    def threads() -> list[ThreadInfo]:
        return runner.store.threads()

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

    @app.post("/api/threads/{thread_id}/ask", summary="a follow-up question, streamed as events")
    def ask(thread_id: str, body: AskBody):
        check_thread_id(thread_id)
        if not runner.store.exists(thread_id):
            return _error(404, f"thread {thread_id}: no such thread")
        return StreamingResponse(_sse(runner.ask_events(thread_id, body.question)),
                                 media_type="text/event-stream",
                                 headers={"Cache-Control": "no-store"})

    @app.post("/api/threads/{thread_id}/review", summary="decide on the answer waiting for "
              "review (approve, edit, reject, clue), streamed as events")
    def review(thread_id: str, body: ReviewDecision):
        try:
            events = runner.review_events(thread_id, body.model_dump(mode="json"))
        except KeyError:
            return _error(404, f"thread {thread_id}: no such thread")
        except ClientInputError as exc:
            return _error(409, str(exc))
        return StreamingResponse(_sse(events), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-store"})

    @app.post("/api/threads/{thread_id}/truth", summary="keep the photo's true place as a "
              "correction (sinoloc knowledge corrections lists them)")
    def truth(thread_id: str, body: TruthBody):
        try:
            kept = runner.record_truth(thread_id, body.place)
        except KeyError:
            return _error(404, f"thread {thread_id}: no such thread")
        return {"id": kept.id, "truth": kept.truth, "adcode": kept.truth_adcode}

    @app.get("/api/map/base", summary="province outlines (WGS-84 GeoJSON) under every map")
    def base() -> dict:
        return _base_json()

    for router in routers:
        app.include_router(router)
    return app


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
