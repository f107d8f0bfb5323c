"""A chat session: one graph, one checkpointed thread, images and questions sent to it, and what
happened streamed back as :class:`ChatEvent` items while it happens.

With ``runs`` (agent/records/threads.py) every run is one session of the thread's record: a
:class:`~sinoloc.agent.records.threads.ThreadRecorder` records each image's locate run, each
follow-up question and each review decision into ``DIR/THREAD_ID`` (``sinoloc chat
--record-dir DIR``); a :class:`~sinoloc.agent.records.threads.ThreadReplay` answers them from
a record instead (``sinoloc chat --replay``, app/chat/replay.py)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from langgraph.types import Command

from sinoloc.agent.corrections import Correction, CorrectionsError, record_correction
from sinoloc.agent.graph import RECURSION_LIMIT, build_graph
from sinoloc.agent.records.threads import RunKind, ThreadRuns
from sinoloc.agent.review import ReviewDecision, ReviewRequest
from sinoloc.agent.schemas import GeoPrediction, TranscriptEntry
from sinoloc.app.chat.events import ChatEvent, cli_model_advice, graph_stream, stream_events
from sinoloc.app.chat.threads import ThreadStore, check_thread_id, new_thread_id
from sinoloc.tools.images import load_image


class ChatSession:
    def __init__(self, store: ThreadStore, policy=None, thread_id: str | None = None,
                 request_defaults: dict[str, Any] | None = None, resume_options: str = "",
                 runs: ThreadRuns | None = None):
        """``resume_options``: what else the resume command needs (`` --db PATH`` for a thread
        store other than the default); ``runs``: what records (or replays) each run."""
        self.store = store
        self.runs = runs
        self.resume_options = resume_options
        self.graph = build_graph(policy, checkpointer=store.checkpointer)
        self.thread_id = check_thread_id(thread_id) if thread_id else new_thread_id()
        self.request_defaults = dict(request_defaults or {})

    def resume_command(self) -> str:
        """The command that opens this thread again."""
        review = " --review" if self.review else ""
        return f"sinoloc chat --thread {self.thread_id}{self.resume_options}{review}"

    @property
    def config(self) -> dict:
        return {"configurable": {"thread_id": self.thread_id}, "recursion_limit": RECURSION_LIMIT}

    def _values(self) -> dict:
        return self.graph.get_state(self.config).values or {}

    # ------------------------------------------------------------------ turns
    def send_image(self, image: str | Path) -> Iterator[ChatEvent]:
        """Locate ``image`` on this thread (the previous image's findings are set aside).
        Raises :class:`~sinoloc.tools.images.ImageInputError` before anything runs."""
        path = Path(image).expanduser()
        load_image(path)  # a clear error for a bad file, before the thread changes
        self.store.record(self.thread_id, image=str(path))
        request = {**self.request_defaults, "image_path": str(path.resolve())}
        with self._recorded("locate", path.resolve(), {"review": True} if self.review else None):
            yield from self._run({"request": request})

    def ask(self, question: str) -> Iterator[ChatEvent]:
        """A follow-up question about the current image."""
        self.store.record(self.thread_id, question=True)
        with self._recorded("ask", self._current_image(), {"question": question}):
            yield from self._run({"question": question})

    # ------------------------------------------------------------------ human review
    @property
    def review(self) -> bool:
        return bool(self.request_defaults.get("review"))

    @review.setter
    def review(self, on: bool) -> None:
        """Stop each new image before commit for a decision (``/review on``)."""
        self.request_defaults["review"] = bool(on)

    def pending_review(self) -> ReviewRequest | None:
        """The review the thread waits for, if it does."""
        state = self.graph.get_state(self.config)
        for item in getattr(state, "interrupts", ()) or ():
            if isinstance(item.value, dict) and item.value.get("kind") == "review":
                return ReviewRequest.model_validate(item.value)
        return None

    def decide(self, decision: ReviewDecision | dict) -> Iterator[ChatEvent]:
        """Answer the pending review (approve, edit, reject, clue): the run's events. Raises
        ValueError at once for a decision that is not well formed, or when nothing waits."""
        decision = ReviewDecision.model_validate(decision)
        if self.pending_review() is None:
            raise ValueError("nothing waits for review on this thread")
        return self._decided(decision.model_dump(mode="json"))

    def _decided(self, decision: dict) -> Iterator[ChatEvent]:
        with self._recorded("review", self._current_image(), {"decision": decision}):
            yield from self._run(Command(resume=decision))

    # ------------------------------------------------------------------ records
    def _current_image(self) -> Path | None:
        path = self.image_path()
        return Path(path) if path else None

    def _recorded(self, kind: RunKind, image: Path | None,
                  data: dict | None) -> contextlib.AbstractContextManager:
        """The run as one session of the thread's record (nothing without ``runs``); the
        image's content hash names it (a follow-up's, when its file is gone: the record's
        current image's)."""
        if self.runs is None:
            return contextlib.nullcontext()
        from sinoloc.agent.records.recording import file_sha256

        sha = None
        with contextlib.suppress(OSError):
            sha = file_sha256(image) if image is not None else None
        return self.runs.run(self.thread_id, kind, sha256=sha,
                             image_dir=image.parent if image is not None else None, data=data)

    def record_truth(self, truth: str, note: str = "") -> Correction:
        """Keep the true place of the current image (``/truth 江苏省苏州市``) in the corrections
        file, with the answer's evidence and the text read in the image."""
        prediction = self.prediction()
        if prediction is None:
            pending = self.pending_review()
            prediction = pending.proposal if pending is not None else None
        if prediction is None:
            raise CorrectionsError("no answer on this thread yet: locate an image first")
        texts = [s.get("text", "") for s in self._values().get("ocr_spans") or []]
        return record_correction(truth, prediction, texts=texts, note=note, surface="chat")

    def _run(self, graph_input: dict | Command) -> Iterator[ChatEvent]:
        answer = None
        for mode, chunk in graph_stream(self.graph, graph_input, self.config):
            for event in stream_events(mode, chunk, cli_model_advice(self.resume_command())):
                if event.kind == "answer":
                    answer = event.text
                yield event
        if answer is not None:
            self.store.record(self.thread_id, answer=answer)

    # ------------------------------------------------------------------ what the thread holds
    @property
    def has_image(self) -> bool:
        return bool(self._values().get("image"))

    def image_path(self) -> str | None:
        """The current image's path (the one the answer is about), or None before any."""
        request = self._values().get("request") or {}
        return request.get("image_path") if isinstance(request, dict) else \
            getattr(request, "image_path", None)

    def prediction(self) -> GeoPrediction | None:
        data = self._values().get("prediction")
        return GeoPrediction.model_validate(data) if data else None

    def transcript(self) -> list[TranscriptEntry]:
        return [TranscriptEntry.model_validate(e) for e in self._values().get("transcript", [])]

    def reset(self) -> str:
        """Start a new thread (the old one stays in the store, resumable by its id)."""
        self.thread_id = new_thread_id()
        return self.thread_id
