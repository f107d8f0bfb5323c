"""``sinoloc mcp``: the geolocator as an MCP server (the official ``mcp`` SDK, 2.x) for other
people's agents — desktop assistants, IDE agents, LangChain apps through langchain-mcp-adapters.

Tools: ``locate_image`` (the :class:`GeoPrediction` as structured content and a short summary,
with progress notifications while the graph runs), and read-only ``explain`` (an answer's
evidence and verification), ``candidates`` (ranked districts, cities, provinces) and
``knowledge_search`` (the clue corpus); ``settings.review`` puts the answer to the person before
commit (app/mcp/review.py). The trust boundary is ``sinoloc serve``'s
(:class:`~sinoloc.agent.boundary.ServeBoundary`): the model, the prior and the images folder are
the operator's; a client sends the image itself (a data: URI) or a file name inside ``--images
DIR``; its settings are :class:`ClientSettings` (bounded, no model, no paths).
"""

from __future__ import annotations

import asyncio
import itertools
from collections import OrderedDict
from typing import Annotated, Any

from langgraph.types import Command
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import CallToolResult, InputRequiredResult, TextContent, ToolAnnotations
from pydantic import BaseModel, ConfigDict, Field, model_validator

from sinoloc.agent.boundary import ClientInputError, ServeBoundary
from sinoloc.agent.graph import build_graph
from sinoloc.agent.output.render import headline
from sinoloc.agent.review import ReviewRequest
from sinoloc.agent.schemas import Candidate, GeoPrediction, RegionCandidate
from sinoloc.app.chat.events import agraph_stream, stream_events
from sinoloc.app.mcp.pending import PendingReviews, Waiting
from sinoloc.app.mcp.review import (
    MAX_ROUNDS,
    NO_ELICITATION,
    Elicit,
    NeedsInput,
    NoBackChannel,
    ReviewStopped,
    answered_decision,
    ask,
    can_elicit,
    input_required,
)
from sinoloc.tools.images import ImageInputError

RECURSION_LIMIT = 200
KEPT_RESULTS = 256  # answers `explain` and `candidates` can still refer to
OPERATOR_CHOICES = ("llm", "model", "base_url", "prior", "checkpoint")
INSTRUCTIONS = (
    "sinoloc locates photos and street-view panoramas taken in China: province, city, district "
    "and WGS-84 coordinates, with the evidence behind them. Call locate_image with the image "
    "(a data: URI, or a file name in the server's images folder); then explain or candidates "
    "with the run id it returns. knowledge_search finds the clue knowledge (plates, signs, "
    "architecture) by words.")


class ClientSettings(BaseModel):
    """What a client may set for one image (the rest is the operator's)."""

    model_config = ConfigDict(extra="forbid")

    top_k: int = Field(default=10, ge=1, le=50, description="candidate districts to list")
    ignore_exif: bool = Field(default=False, description="do not use the image's EXIF GPS")
    offline: bool = Field(default=False, description=(
        "no network call for this image (the operator may have made every run offline)"))
    max_model_calls: int | None = Field(default=None, ge=1, le=100)
    max_tool_calls: int | None = Field(default=None, ge=3, le=200)
    max_seconds: float | None = Field(default=None, gt=0, le=600)
    disabled_tools: list[str] = Field(default_factory=list, max_length=20)
    review: bool = Field(default=False, description=(
        "ask the person before the answer is committed (MCP elicitation: approve, edit, reject "
        "or add a clue); needs a client that can elicit"))

    @model_validator(mode="before")
    @classmethod
    def _operator_only(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for name in OPERATOR_CHOICES:
                if data.get(name) is not None:
                    raise ValueError(f"{name}: chosen by the server's operator (sinoloc mcp "
                                     "--llm / --prior), not by a client")
        return data


class Candidates(BaseModel):
    run_id: str
    districts: list[Candidate]
    cities: list[RegionCandidate]
    provinces: list[RegionCandidate]


class Explanation(BaseModel):
    run_id: str
    answer: str
    reasoning: str
    evidence: list[str] = Field(description="each item: id, kind, text, source, weight")
    verification: list[str] = Field(description="each check: passed or why not")
    ignored_text: list[str]
    warnings: list[str]
    answered_by: str


class KnowledgeHit(BaseModel):
    id: str
    kind: str
    clue_zh: str
    clue_en: str
    regions: list[str]
    strength: float
    source: str
    score: float


def run_id_of(prediction: GeoPrediction) -> str:
    """The id ``explain`` and ``candidates`` take: the start of the image's hash."""
    return prediction.image.sha256[:12]


def summary(prediction: GeoPrediction) -> str:
    c = prediction.confidence
    lines = [f"{headline(prediction)}; confidence province {c.province:.2f}, city {c.city:.2f}, "
             f"district {c.district:.2f}; {len(prediction.evidence)} evidence item(s), basis "
             f"{prediction.basis}.",
             f"run_id {run_id_of(prediction)} (explain / candidates)"]
    lines += [f"warning: {w}" for w in prediction.warnings[:3]]
    return "\n".join(lines)


class Locator:
    """The warm graph every call shares, a bound on runs at a time, and recent answers."""

    def __init__(self, policy=None, *, boundary: ServeBoundary, defaults: dict | None = None,
                 workers: int = 2):
        self.boundary = boundary
        self.defaults = dict(defaults or {})
        self.graph = build_graph(policy, boundary=boundary)
        self.policy_name = getattr(policy, "name", "deterministic")
        self.workers = max(1, workers)
        self._slots = asyncio.Semaphore(self.workers)
        self._results: OrderedDict[str, GeoPrediction] = OrderedDict()
        self._policy = policy
        self._review_graph = None
        self._pending = PendingReviews(self._delete_thread)

    def _delete_thread(self, thread_id: str) -> None:
        if self._review_graph is not None:
            self._review_graph.checkpointer.delete_thread(thread_id)

    def admit(self, image: str, settings: ClientSettings) -> dict:
        """The run's ``configurable``; raises :class:`ClientInputError` / ImageInputError."""
        chosen = settings.model_dump(exclude_none=True, exclude_defaults=True)
        configurable = {**self.defaults, **chosen, "review": settings.review}
        self.boundary.admit({"image_path": image}, configurable)
        return configurable

    def _reviewing(self):
        """The graph of reviewed runs: the same one with threads in memory (a review pauses the
        run between the person's answers; each thread is deleted when its call ends)."""
        if self._review_graph is None:
            from langgraph.checkpoint.memory import InMemorySaver

            self._review_graph = build_graph(self._policy, checkpointer=InMemorySaver(),
                                             boundary=self.boundary)
        return self._review_graph

    async def locate(self, image: str, settings: ClientSettings, progress=None,
                     elicit: Elicit | None = None, answer: tuple[str, Any] | None = None
                     ) -> GeoPrediction:
        """One run; with ``settings.review`` each review is put to the person through
        ``elicit`` (the tool's ``ctx.elicit``) and the run resumed with their decision. Over a
        session without a back-channel it raises :class:`NeedsInput` (the tool returns the
        form) and the retried call brings ``answer``: ``(request_state, input_responses)``."""
        report = _reporter(progress)
        if answer is not None:
            return await self._answered(answer, report, elicit)
        if settings.review and elicit is None:
            raise ClientInputError(NO_ELICITATION)
        configurable = await asyncio.to_thread(self.admit, image, settings)
        inputs = {"request": {"image_path": image}}
        if not settings.review:
            prediction, _ = await self._segment(self.graph, inputs, configurable, report)
            return self._finish(prediction)
        self._reviewing()
        thread_id = self._pending.open()
        waiting = Waiting({**configurable, "thread_id": thread_id})
        return await self._reviewed(thread_id, waiting, inputs, report, elicit)

    async def _answered(self, answer: tuple[str, Any], report, elicit: Elicit | None):
        """A retried 2026 call with the person's answer to its parked run's form."""
        state, responses = answer
        waiting = self._pending.take(state)
        try:
            decision = answered_decision(state, waiting.request, responses, waiting.forms)
        except NeedsInput:
            waiting.forms += 1
            self._pending.park(state, waiting)
            raise
        except ReviewStopped:
            self._pending.close(state)
            raise
        waiting.forms = 0
        inputs: Command = Command(resume=decision.model_dump(mode="json"))
        return await self._reviewed(state, waiting, inputs, report, elicit)

    async def _reviewed(self, thread_id: str, waiting: Waiting, inputs, report,
                        elicit: Elicit | None) -> GeoPrediction:
        """Run the review graph's thread until a person approves what it commits, at most
        :data:`MAX_ROUNDS` reviews in all (across the retried calls of a 2026 session)."""
        graph, parked = self._reviewing(), False
        try:
            while waiting.rounds < MAX_ROUNDS:
                prediction, pending = await self._segment(graph, inputs, waiting.configurable,
                                                          report)
                if pending is None:
                    return self._finish(prediction)
                waiting.rounds += 1
                try:
                    if elicit is None:  # a retried 2026 call: the form goes in its result again
                        raise NoBackChannel
                    decision = await ask(elicit, ReviewRequest.model_validate(pending))
                except NoBackChannel:
                    parked, waiting.request = True, pending
                    self._pending.park(thread_id, waiting)
                    raise NeedsInput(thread_id, pending) from None
                inputs = Command(resume=decision.model_dump(mode="json"))
        finally:
            if not parked:
                self._pending.close(thread_id)
        raise ToolError(f"review: {MAX_ROUNDS} reviews without an approved answer; nothing was "
                        "committed")

    async def _segment(self, graph, inputs, configurable: dict, report):
        """Run ``graph`` until it commits or stops for a review (a run slot is held only while
        it runs, not while a person decides): ``(prediction or None, review request or None)``."""
        config = {"configurable": configurable, "recursion_limit": RECURSION_LIMIT}
        # a review thread is checkpointed only where its run stops: the client's upload, given as
        # the input, is never kept in a paused thread (ingest has stored it by then)
        durability = {"durability": "exit"} if graph is self._review_graph else {}
        prediction, pending = None, None
        async with self._slots:
            async for mode, chunk in agraph_stream(graph, inputs, config, **durability):
                if mode == "updates" and isinstance(chunk, dict):
                    prediction = _prediction_in(chunk) or prediction
                    pending = _interrupt_in(chunk) or pending
                for event in stream_events(mode, chunk):
                    await report(f"{event.kind}: {event.text}")
        return prediction, pending

    def _finish(self, prediction) -> GeoPrediction:
        if prediction is None:
            raise ToolError("the graph ended without a prediction")
        result = GeoPrediction.model_validate(prediction)
        self._keep(result)
        return result

    def _keep(self, prediction: GeoPrediction) -> None:
        key = run_id_of(prediction)
        self._results[key] = prediction
        self._results.move_to_end(key)
        while len(self._results) > KEPT_RESULTS:
            self._results.popitem(last=False)

    def result(self, run_id: str) -> GeoPrediction:
        found = self._results.get((run_id or "").strip().lower())
        if found is None:
            raise ToolError(f"run_id {run_id[:20]!r}: no such answer on this server (call "
                            "locate_image first; the run id is in its summary)")
        return found


def _reporter(progress):
    """The call's progress: one count across its segments and reviews."""
    steps = itertools.count(1)

    async def report(text: str) -> None:
        if progress is not None:
            await progress(next(steps), text[:300])

    return report


def _prediction_in(chunk: dict):
    for update in chunk.values():
        if isinstance(update, dict) and update.get("prediction"):
            return update["prediction"]
    return None


def _interrupt_in(chunk: dict):
    """The review request of an ``updates`` chunk that stopped for one (else None)."""
    pending = chunk.get("__interrupt__")
    return pending[0].value if pending else None


def explanation(prediction: GeoPrediction) -> Explanation:
    checks = prediction.verification.checks if prediction.verification else []
    return Explanation(
        run_id=run_id_of(prediction), answer=headline(prediction), reasoning=prediction.reasoning,
        evidence=[f"{e.id} {e.kind.value}: {e.text} ({e.detail or e.source}; weight "
                  f"{e.effective_weight:.2f})" for e in prediction.evidence],
        verification=[f"{c.name}: {'passed' if c.passed else c.message}" for c in checks],
        ignored_text=[f"{i.text}: {i.reason}" for i in prediction.ignored_text],
        warnings=prediction.warnings, answered_by=prediction.answered_by)


def build_server(locator: Locator) -> MCPServer:
    """The MCP server over ``locator`` (run it with stdio or Streamable HTTP)."""
    from sinoloc import __version__

    server = MCPServer("sinoloc", title="sinoloc: where in China was this photo taken?",
                       instructions=INSTRUCTIONS, version=__version__, log_level="WARNING")
    read_only = ToolAnnotations(read_only_hint=True, open_world_hint=False)

    @server.tool(annotations=ToolAnnotations(read_only_hint=True, open_world_hint=True))
    async def locate_image(
        image: Annotated[str, Field(description=(
            "the image: a data: URI (data:image/jpeg;base64,…) or the name of a file in the "
            "server's images folder"), max_length=70_000_000)],
        ctx: Context,
        settings: ClientSettings | None = None,
    ) -> Annotated[CallToolResult, GeoPrediction] | InputRequiredResult:
        """Locate a photo or street-view panorama taken in China: province, city, district and
        WGS-84 coordinates, ranked candidates, a confidence per level and the evidence behind
        every claim (OCR'd addresses, phone numbers, plates, knowledge clues). Reports progress
        while it runs (a few seconds offline; longer with a language model). With
        ``settings.review`` the person is shown the proposed answer before it is committed and
        approves, edits, rejects or adds a clue (MCP elicitation)."""

        async def progress(step: int, message: str) -> None:
            await ctx.report_progress(step, None, message)

        settings = settings or ClientSettings()
        elicit = ctx.elicit if can_elicit(ctx.client_capabilities) else None
        answer = (ctx.request_state, ctx.input_responses) if ctx.request_state else None
        try:
            prediction = await locator.locate(image, settings, progress, elicit, answer)
        except NeedsInput as need:
            return input_required(need)
        except ReviewStopped as exc:
            raise ToolError(str(exc)) from exc
        except (ClientInputError, ImageInputError) as exc:
            raise ToolError(str(exc).splitlines()[0]) from exc
        return CallToolResult(content=[TextContent(type="text", text=summary(prediction))],
                              structured_content=prediction.model_dump(mode="json"))

    @server.tool(annotations=read_only)
    def explain(run_id: Annotated[str, Field(max_length=64, description=(
            "the run id locate_image returned"))]) -> Explanation:
        """An answer's evidence (ids, kinds, texts, weights), its verification checks, the text
        read and set aside, and its warnings."""
        return explanation(locator.result(run_id))

    @server.tool(annotations=read_only)
    def candidates(run_id: Annotated[str, Field(max_length=64, description=(
            "the run id locate_image returned"))]) -> Candidates:
        """The ranked alternatives of an answer: districts (with coordinates), cities and
        provinces, each with its probability under the evidence."""
        p = locator.result(run_id)
        return Candidates(run_id=run_id_of(p), districts=p.candidates,
                          cities=p.city_candidates, provinces=p.province_candidates)

    @server.tool(annotations=read_only)
    def knowledge_search(
        query: Annotated[str, Field(min_length=1, max_length=500, description=(
            "words in Chinese or English: 藏文招牌, yellow plates, 骑楼"))],
        region: Annotated[str | None, Field(max_length=50, description=(
            "only clues pointing into this region (a name or an adcode)"))] = None,
        k: Annotated[int, Field(ge=1, le=20)] = 5,
    ) -> list[KnowledgeHit]:
        """The clue knowledge base (what expert players read from a scene), searched offline:
        each hit with the regions it points to, its strength and its public source."""
        from sinoloc.tools.knowledge.retrieval import get_knowledge_index

        index = get_knowledge_index()
        try:
            hits = index.search(query, region=region, k=k)
        except ValueError as exc:
            raise ToolError(str(exc)) from exc
        return [KnowledgeHit(id=h.entry.id, kind=h.entry.kind.value, clue_zh=h.entry.clue_zh,
                             clue_en=h.entry.clue_en,
                             regions=index.corpus.region_names(h.entry),
                             strength=h.entry.strength, source=h.entry.source,
                             score=round(h.score, 3)) for h in hits]

    return server


__all__ = ["Candidates", "ClientSettings", "Explanation", "KnowledgeHit", "Locator",
           "build_server", "explanation", "run_id_of", "summary"]
