"""Recording and replaying one image's exchanges, and the three hooks the graph calls.

The graph calls :func:`model_exchange` where the model policy calls its model, :func:`tool_exchange`
where the tool runner runs a tool, and :func:`verify_checkpoint` where verification gives its
verdict. With no session active (the default) each hook only runs the call. Inside
``RunRecording.image(...)`` an :class:`ImageSession` records each exchange (request, response,
seconds) and, when replaying, serves the recorded response instead of calling: a request is looked
up by its hash (and its occurrence: a retried request is served its recorded outcomes in turn).

A request the record does not hold is a *miss*: the first one is the image's
:class:`~.divergence.Divergence`, and by the ``on_miss`` option the image stops with
:class:`ReplayMiss` (status ``replay_miss``) or the live model/tool answers it and every later
exchange of the image (``live``). A verdict that differs from the recorded one, and a run that ends
before the record does, are divergences too (nothing to serve, so never a miss).
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable
from typing import Any, Literal

from langchain_core.messages import AIMessage, BaseMessage

from sinoloc.agent.records.divergence import (
    Divergence,
    nearest_model,
    nearest_tool,
    short,
    verdict_form,
    why_model,
    why_tool,
    why_verdict,
)
from sinoloc.agent.records.normalize import (
    Scrubber,
    content_hash,
    message_form,
    reply_from_json,
    reply_to_json,
)
from sinoloc.agent.records.reader import ImageRecord, Record
from sinoloc.agent.records.schema import VERSION, Step, StepKind
from sinoloc.agent.records.writer import RecordWriter

OnMiss = Literal["stop", "live"]
ON_MISS: tuple[OnMiss, ...] = ("stop", "live")
_ACTIVE: contextvars.ContextVar[ImageSession | None] = contextvars.ContextVar(
    "sinoloc_record_session", default=None)
# the trajectory (samples > 1) whose node is running: its exchanges are keyed by it, so that
# the concurrent trajectories of one image each replay their own, whatever order they ran in
_SAMPLE: contextvars.ContextVar[int | None] = contextvars.ContextVar(
    "sinoloc_record_sample", default=None)


class ReplayMiss(Exception):
    """The graph asked what the record does not hold (``on_miss="stop"``)."""

    def __init__(self, divergence: Divergence):
        super().__init__(divergence.line())
        self.divergence = divergence


class RecordedToolError(Exception):
    """A tool's recorded failure, raised again on replay under the original class's name."""


def _json_safe(value: Any) -> Any:
    from sinoloc.agent.llm.messages import json_safe

    return json_safe(value)


def _costed(method):
    """Adds the hook's own time (not the model's or the tool's) to ``spent_s``."""
    @functools.wraps(method)
    def run(self, *args, **kwargs):
        start, calling = time.perf_counter(), self._thread_calling()
        try:
            return method(self, *args, **kwargs)
        finally:
            spent = time.perf_counter() - start - (self._thread_calling() - calling)
            with self._lock:
                self.spent_s += spent
    return run


class ImageSession:
    """One image's exchanges: recorded to ``writer`` and/or served from ``source``.
    ``spent_s`` is the time recording and replay themselves took (the calls' time excluded)."""

    def __init__(self, image: str, sha256: str | None, *, writer: RecordWriter | None,
                 scrub: Scrubber, source: ImageRecord | None = None,
                 record: Record | None = None, replaying: bool = False,
                 on_miss: OnMiss = "stop", attempt: int = 1, data: dict | None = None):
        """``data``: what the start step keeps about the run besides its image (a thread's
        follow-up question, see :mod:`.threads`)."""
        self.image, self.sha256, self.attempt = image, sha256, attempt
        self.writer, self.scrub = writer, scrub
        self.source, self.record, self.replaying, self.on_miss = source, record, replaying, on_miss
        self.seq = 0
        self._lock = threading.Lock()  # the trajectories of samples > 1 share the session
        self._calling = threading.local()  # this thread's calling time (concurrent hooks)
        self.spent_s = self.calling_s = 0.0
        self.hits = self.misses = self.live_calls = 0
        self.live = False  # after a miss with on_miss="live": everything runs live
        self.divergence: Divergence | None = None
        self._queues: dict[str, deque[Step]] = defaultdict(deque)
        self._verdicts: dict[int | None, deque[Step]] = defaultdict(deque)  # by trajectory
        for step in source.steps if source else []:
            if step.kind in ("model", "tool"):
                self._queues[step.req or ""].append(step)
            elif step.kind == "verify":
                self._verdicts[(step.data or {}).get("sample")].append(step)
        self._write(Step(v=VERSION, image=image, attempt=attempt, seq=self._next(),
                         kind="start", sha256=sha256,
                         data=self.scrub(data) if data else None))

    # ------------------------------------------------------------------ plumbing
    def _thread_calling(self) -> float:
        return getattr(self._calling, "s", 0.0)

    def _next(self) -> int:
        with self._lock:
            seq, self.seq = self.seq, self.seq + 1
        return seq

    def _write(self, step: Step) -> None:
        if self.writer is not None:
            self.writer.step(step)

    def _blob(self, value: Any) -> str:
        return self.writer.blob(value) if self.writer is not None else content_hash(value)

    def _serve(self, key: str) -> Step | None:
        if not self.replaying or self.live:
            return None
        with self._lock:
            queue = self._queues.get(key)
            return queue.popleft() if queue else None

    def _miss(self, divergence: Divergence) -> None:
        with self._lock:
            self.misses += 1
            if self.divergence is None:
                self.divergence = divergence
        if self.on_miss == "stop":
            raise ReplayMiss(divergence)
        self.live = True

    def _exchange(self, kind: StepKind, name: str, req: str, seq: int,
                  call: Callable[[], dict], served: Step | None) -> dict:
        """The response (served or called), with its step written."""
        if served is not None:
            with self._lock:
                self.hits += 1
            assert self.record is not None
            response = self.record.blob(served.res)
            self._write(Step(v=VERSION, image=self.image, attempt=self.attempt, seq=seq,
                             kind=kind, name=name, req=req,
                             res=self._blob(response), s=served.s))
            return response
        if self.replaying:
            with self._lock:
                self.live_calls += 1
        start = time.perf_counter()
        response = self.scrub(_json_safe(call()))
        self._write(Step(v=VERSION, image=self.image, attempt=self.attempt, seq=seq, kind=kind,
                         name=name, req=req, res=self._blob(response),
                         s=round(time.perf_counter() - start, 4)))
        return response

    def _timed(self, call: Callable[[], Any]) -> Callable[[], Any]:
        """``call`` with its time added to ``calling_s`` (what recording does not cost)."""
        def run():
            start = time.perf_counter()
            try:
                return call()
            finally:
                took = time.perf_counter() - start
                self._calling.s = self._thread_calling() + took
                with self._lock:
                    self.calling_s += took
        return run

    # ------------------------------------------------------------------ the hooks
    @_costed
    def model(self, name: str, tools: list[dict], messages: list[BaseMessage],
              call: Callable[[], AIMessage]) -> AIMessage:
        seq = self._next()
        forms = [self.scrub(message_form(m)) for m in messages]
        hashes = [self._blob(f) for f in forms]
        tools_h = self._blob(self.scrub(tools))
        request = {"model": name, "messages": hashes, "tools": tools_h, **_sample_key()}
        req = self._blob(request)  # its hash is the key
        served = self._serve(req)
        if served is None and self.replaying and not self.live:
            self._miss(self._model_divergence(seq, name, request, dict(zip(hashes, forms, strict=False))
                                              | {tools_h: tools}))

        def live() -> dict:
            try:
                return {"reply": reply_to_json(self._timed(call)())}
            except Exception as exc:
                return {"error": _model_error(exc)}
        response = self._exchange("model", name, req, seq, live, served)
        if "error" in response:
            raise _raise_model_error(response["error"])
        return reply_from_json(response["reply"])

    @_costed
    def tool(self, name: str, args: dict, context: Any, call: Callable[[], Any]) -> Any:
        from sinoloc.agent.toolbox.context import ToolOutput

        seq = self._next()
        request = {"tool": name, "args": self.scrub(args), "image": self.sha256,
                   "context": content_hash(self.scrub(context_form(context))), **_sample_key()}
        req = self._blob(request)  # its hash is the key
        served = self._serve(req)
        if served is None and self.replaying and not self.live:
            self._miss(self._tool_divergence(seq, name, request))

        def live() -> dict:
            try:
                return {"output": self._timed(call)().model_dump(mode="json")}
            except Exception as exc:  # the runner turns it into the call's error result
                return {"error": {"type": exc.__class__.__name__, "message": str(exc)}}
        response = self._exchange("tool", name, req, seq, live, served)
        if "error" in response:
            error = response["error"]
            raise type(error["type"], (RecordedToolError,), {})(error["message"])
        return ToolOutput.model_validate(response["output"])

    @_costed
    def verdict(self, verdict: dict) -> None:
        """A verdict, compared with the recorded one of the same trajectory (samples > 1: they
        give their verdicts concurrently)."""
        seq, sample = self._next(), _SAMPLE.get()
        now = verdict_form(verdict)
        if self.replaying and not self.live and self.divergence is None:
            with self._lock:
                queue = self._verdicts[sample]
                recorded = queue.popleft() if queue else None
            then = verdict_form((recorded.data or {}).get("verdict") or {}) if recorded else None
            if recorded is not None and then != now:
                self.divergence = Divergence(
                    image=self.image, step=seq, kind="verify", asked=short(now),
                    nearest=recorded.seq, recorded="the recorded verdict",
                    why=why_verdict(now, then or {}))
        self._write(Step(v=VERSION, image=self.image, attempt=self.attempt, seq=seq,
                         kind="verify", data={"verdict": self.scrub(verdict),
                                              **({"sample": sample} if sample is not None else {})}))

    @_costed
    def finish(self, status: str) -> dict:
        """The image's end step, and what the replay did (``None`` when only recording)."""
        left = [s for q in self._queues.values() for s in q]
        if self.replaying and not self.live and status == "ok" and left \
                and self.divergence is None:
            first = min(left, key=lambda s: s.seq)
            self.divergence = Divergence(
                image=self.image, step=self.seq, kind="ended_early", name=first.name,
                asked="the run ended", nearest=first.seq, recorded=f"{first.kind} {first.name}",
                why=f"the run ended before the record did: {len(left)} recorded exchange(s) "
                    f"never asked, from step {first.seq} ({first.kind} {first.name})")
        summary = self.summary()
        self._write(Step(v=VERSION, image=self.image, attempt=self.attempt, seq=self._next(),
                         kind="end", data={"status": status, **(summary or {})}))
        return summary or {}

    def summary(self) -> dict | None:
        if not self.replaying:
            return None
        return {"hits": self.hits, "misses": self.misses, "live_calls": self.live_calls,
                "divergence": self.divergence.model_dump() if self.divergence else None}

    # ------------------------------------------------------------------ divergences
    def _model_divergence(self, seq: int, name: str, request: dict,
                          forms: dict[str, Any]) -> Divergence:
        last = forms.get(request["messages"][-1], {}) if request["messages"] else {}
        asked = f"{len(request['messages'])} messages, the last {last.get('role')} " \
                f"«{short(last.get('content'), 100)}»"
        near = nearest_model(self.source, self.record, request, seq) \
            if self.source is not None and self.record is not None else None
        return self._divergence(seq, "model", name, asked, near, lambda recorded: (
            f"model {near.name}" if near else None,
            why_model(request, forms, recorded, self.record)))  # type: ignore[arg-type]

    def _tool_divergence(self, seq: int, name: str, request: dict) -> Divergence:
        asked = f"{name}({short(request['args'], 100)})"
        near = nearest_tool(self.source, self.record, request, seq) \
            if self.source is not None and self.record is not None else None
        return self._divergence(seq, "tool", name, asked, near, lambda recorded: (
            f"{near.name}({short(recorded.get('args'), 80)})" if near else None,
            why_tool(request, recorded)))

    def _divergence(self, seq: int, kind: Literal["model", "tool"], name: str, asked: str,
                    near: Step | None, explain) -> Divergence:
        """The divergence at a miss, beside the nearest recorded step (``explain(recorded)``:
        how to name that step, and why it differs)."""
        if self.source is None or self.record is None:
            return Divergence(image=self.image, step=seq, kind="no_record", name=name,
                              asked=asked, why="the record holds no run of this image")
        if near is None:
            return Divergence(image=self.image, step=seq, kind=kind, name=name, asked=asked,
                              why=f"no {kind} call was recorded for this image")
        recorded_as, why = explain(self.record.blob(near.req) or {})
        return Divergence(image=self.image, step=seq, kind=kind, name=name, asked=asked,
                          nearest=near.seq, recorded=recorded_as, why=why)


def _model_error(exc: Exception) -> dict:
    from sinoloc.agent.llm.failures import classify_error

    if isinstance(exc, TimeoutError):
        return {"type": "TimeoutError", "message": str(exc)}
    failure = classify_error(exc)
    return {"type": exc.__class__.__name__, "message": failure.message, "kind": failure.kind.value,
            "retry_after": failure.retry_after}


def _raise_model_error(error: dict) -> Exception:
    """The exception a recorded model failure is raised as again (its classification kept)."""
    from sinoloc.agent.llm.failures import BackendFailure, FailureKind

    if error.get("type") == "TimeoutError":
        return TimeoutError(error.get("message", ""))
    return BackendFailure(FailureKind(error["kind"]), error.get("message", ""),
                          error.get("retry_after"))


def context_form(context: Any) -> dict:
    """What a tool may read besides its arguments (a ToolContext): the request's settings (not
    the image's path: the image is its hash) and what earlier calls found. Fields at their
    defaults are left out, so a record made before a new setting or evidence field was added
    still matches where the new field is unused."""
    return {"request": context.request.model_dump(mode="json", exclude={"image_path"},
                                                  exclude_defaults=True),
            "ocr_spans": [s.model_dump(mode="json", exclude_defaults=True) for s in context.ocr_spans],
            "evidence": [e.model_dump(mode="json", exclude_defaults=True) for e in context.evidence]}


# ---------------------------------------------------------------------- the hooks
def current() -> ImageSession | None:
    return _ACTIVE.get()


def model_exchange(name: str, tools: list[dict], messages: list[BaseMessage],
                   call: Callable[[], AIMessage]) -> AIMessage:
    """One model call (``call``: ``messages`` to the model ``name`` with ``tools`` offered, as
    given to ``bind_tools``), recorded or served when a session is active."""
    session = _ACTIVE.get()
    return call() if session is None else session.model(name, tools, messages, call)


def tool_exchange(name: str, args: dict, context: Any, call: Callable[[], Any]) -> Any:
    """One tool run (``call`` returns its ToolOutput; ``context`` is the ToolContext it
    reads), recorded or served."""
    session = _ACTIVE.get()
    return call() if session is None else session.tool(name, args, context, call)


def verify_checkpoint(verdict: dict) -> None:
    session = _ACTIVE.get()
    if session is not None:
        session.verdict(verdict)


def _sample_key() -> dict:
    """The running trajectory in an exchange's request (nothing outside samples > 1, so a
    one-trajectory run's requests are what they always were)."""
    sample = _SAMPLE.get()
    return {} if sample is None else {"sample": sample}


@contextlib.contextmanager
def sample_scope(index: int | None):
    """The exchanges made inside are the trajectory ``index``'s (None: not a trajectory)."""
    token = _SAMPLE.set(index)
    try:
        yield
    finally:
        _SAMPLE.reset(token)


__all__ = ["ON_MISS", "ImageSession", "OnMiss", "RecordedToolError", "ReplayMiss", "current",
           "model_exchange", "sample_scope", "tool_exchange", "verify_checkpoint"]
