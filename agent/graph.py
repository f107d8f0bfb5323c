"""The LangGraph state graph: ingest → prelude → policy ⇄ tools → verify → commit.

A thread is a conversation: a new ``request`` (an image) enters at ``ingest`` and starts the
image's findings afresh; a ``question`` about the current image enters at ``followup`` and goes
to the policy, which answers in words, calls tools again or submits a revised answer.

``prelude`` runs the visual prior, OCR and the clue lookup and shows the numbered evidence to the
policy; ``policy`` is the slot where a language model or the deterministic policy chooses the
next tool call; ``verify`` accepts a submitted answer or sends it back with reasons (at most
``max_verify_rounds`` times); ``commit`` turns the accepted answer into a GeoPrediction, or the
fusion engine's answer when the submitted one never passed.
"""

from __future__ import annotations

import time
from functools import partial
from typing import Literal, Optional

from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langchain_core.runnables import RunnableConfig
from langgraph.graph import END, START, StateGraph
from langgraph.types import Overwrite
from pydantic import ValidationError

from sinoloc.agent.boundary import ServeBoundary
from sinoloc.agent.budgets import (
    CHAT,
    configured_request,
    entry,
    fresh_image_channels,
    is_new_image,
    turn_base,
    unanswered_calls,
)
from sinoloc.agent.components import check_components
from sinoloc.agent.nodes.policy import FUSION, make_policy_node
from sinoloc.agent.nodes.tools import last_ai_message, prelude, run_tools
from sinoloc.agent.output.render import headline
from sinoloc.agent.policies.deterministic import DeterministicPolicy, Policy
from sinoloc.agent.reasoning.answering import fused_answer
from sinoloc.agent.reasoning.prediction import build_prediction
from sinoloc.agent.reasoning.verify import verify
from sinoloc.agent.schemas import Answer, LocateRequest, Verdict
from sinoloc.agent.state import GeoInput, GeoOutput, GeoState
from sinoloc.agent.toolbox.registry import SUBMIT_TOOL
from sinoloc.prompts import render_prompt
from sinoloc.tools.evidence import Evidence, EvidenceKind, PointSupport
from sinoloc.tools.image_sources import image_to_path
from sinoloc.tools.images import ImageInputError, load_image
from sinoloc.tools.regions import get_region_index

EXIF_WEIGHT = 0.999  # EXIF GPS is decisive unless switched off


def _timed(name: str, start: float) -> dict:
    return {"timings": {name: round(time.perf_counter() - start, 4)}}


NO_REQUEST = "no image: start the thread with a request (image_path) before asking about it"


def ingest(state: GeoState, config: Optional[RunnableConfig] = None, *,  # noqa: UP045
           boundary: ServeBoundary | None = None) -> dict:
    """Decode the image, record its metadata, and turn EXIF GPS into evidence. On a thread that
    held another image, that image's findings and conversation are cleared first. A served
    graph's ``boundary`` decides which images and settings its clients may give."""
    start = time.perf_counter()
    if state.get("request") is None:
        raise ImageInputError(NO_REQUEST)
    if boundary is not None:
        request, loaded = boundary.admit(state["request"], (config or {}).get("configurable"))
    else:
        request = configured_request(state["request"], (config or {}).get("configurable"))
        path = image_to_path(request.image_path)  # a data: URI / base64 is stored by its hash
        request = request.model_copy(update={"image_path": str(path)})
        loaded = load_image(request.image_path)  # ImageInputError propagates: bad input
    # components asked for by name must load: an error now, not a run without them
    check_components(request.ocr_backend, request.prior, request.offline)
    dumped = request.model_dump(mode="json")
    update: dict = {**fresh_image_channels(), "request": dumped, "ingested_request": dumped,
                    "image": loaded.meta.model_dump(mode="json"), "verify_rounds": 0,
                    "answer": None, "verdict": None, "started_at": time.time(),
                    "transcript": [entry("image", request.image_path)]}
    gps = loaded.meta.exif_gps
    if gps is not None and not request.ignore_exif:
        region = get_region_index().reverse(gps.lon, gps.lat)
        where = get_region_index().label(region) if region else "outside the region data"
        update["evidence"] = Overwrite([Evidence(
            id="E1", kind=EvidenceKind.EXIF_GPS, text=f"{gps.lat:.6f}, {gps.lon:.6f}",
            source="image EXIF GPS", point=PointSupport(lat=gps.lat, lon=gps.lon, radius_km=0.05),
            weight=EXIF_WEIGHT, confidence=1.0, detail=f"camera GPS fix in {where}",
            trace="EXIF GPSInfo").model_dump(mode="json")])
    elif gps is not None:
        update["warnings"] = Overwrite(["the image has EXIF GPS, ignored as requested "
                                        "(--ignore-exif)"])
    update["timings"] = Overwrite(_timed("ingest", start)["timings"])
    return update


NO_IMAGE_YET = ("There is no image in this conversation yet: send one first "
                "(sinoloc chat IMAGE, /image PATH, or a request with image_path).")


def followup(state: GeoState) -> dict:
    """A question about the current image: shown to the policy, which answers in words, calls
    tools again, or submits a revised answer (verified like the first)."""
    question = (state.get("question") or "").strip()
    update: dict = {"question": None, "reply": None,
                    "transcript": [entry("question", question)]}
    if not state.get("image"):
        return {**update, "reply": NO_IMAGE_YET,
                "transcript": [*update["transcript"], entry("reply", NO_IMAGE_YET)]}
    messages = [*unanswered_calls(state.get("messages", [])),
                HumanMessage(content=render_prompt("followup", question=question))]
    return {**update, "messages": messages, "mode": CHAT, "verify_rounds": 0, "verdict": None,
            "turn_base": turn_base(state), "started_at": time.time(), "budget_exhausted": None}


def verify_node(state: GeoState) -> dict:
    start = time.perf_counter()
    call = next(c for c in last_ai_message(state).tool_calls if c["name"] == SUBMIT_TOOL)
    rounds = state.get("verify_rounds", 0) + 1
    request = LocateRequest.model_validate(state["request"])
    evidence = [Evidence.model_validate(e) for e in state.get("evidence", [])]
    try:
        answer = Answer.model_validate(call.get("args") or {})
    except ValidationError as exc:
        verdict = Verdict(accepted=False, checks=[], round=rounds,
                          feedback=f"submit_answer arguments are invalid: "
                                   f"{exc.errors(include_url=False)}")
        answer = None
    else:
        verdict = (verify(answer, evidence, get_region_index(), rounds, request.max_verify_rounds)
                   if request.verify else
                   Verdict(accepted=True, checks=[], round=rounds,
                           feedback="verification is switched off for this run"))
    reply = "accepted" if verdict.accepted else verdict.feedback
    update = {"verdict": verdict.model_dump(mode="json"), "verify_rounds": rounds,
              "messages": [ToolMessage(content=reply, tool_call_id=call["id"], name=SUBMIT_TOOL,
                                       status="success" if verdict.accepted else "error")],
              **_timed(f"verify_{rounds}", start)}
    if answer is not None:
        update["answer"] = answer.model_dump(mode="json")
    return update


def commit(state: GeoState) -> dict:
    """The accepted answer; if none passed verification, the fusion engine's answer."""
    start = time.perf_counter()
    verdict = state.get("verdict") or {}
    update: dict = {}
    model_answer_rejected = state.get("answered_by") != FUSION or state.get("answer") is None
    if not verdict.get("accepted") and model_answer_rejected:
        evidence = [Evidence.model_validate(e) for e in state.get("evidence", [])]
        fused, _, _ = fused_answer(evidence, get_region_index())
        update = {"answer": fused.model_dump(mode="json"), "answered_by": FUSION,
                  "warnings": ["the submitted answer never passed verification: committed "
                               "the fusion engine's answer from the evidence instead"]}
    merged = {**state, **update, "warnings": [*state.get("warnings", []),
                                              *update.get("warnings", [])]}
    merged["timings"] = {**state.get("timings", {}), **_timed("commit", start)["timings"]}
    prediction = build_prediction(merged, get_region_index())
    update = {"prediction": prediction.model_dump(mode="json"), **_timed("commit", start),
              "transcript": [entry("answer", headline(prediction))]}
    if state.get("mode") == CHAT:
        update["reply"] = f"Revised answer: {headline(prediction)}. {prediction.reasoning}"
    return update


# ------------------------------------------------------------------ routing (pure)
def route_start(state: GeoState) -> Literal["ingest", "followup"]:
    return "followup" if state.get("question") and not is_new_image(state) else "ingest"


def route_after_followup(state: GeoState) -> Literal["policy", "__end__"]:
    return END if state.get("reply") else "policy"


def _calls(state: GeoState) -> list[dict]:
    message = state["messages"][-1]
    return message.tool_calls if isinstance(message, AIMessage) else []


def route_after_policy(state: GeoState) -> Literal["tools", "verify", "__end__"]:
    calls = _calls(state)
    if any(c["name"] != SUBMIT_TOOL for c in calls):
        return "tools"  # run the other calls first; tools routes on to verify
    if calls:
        return "verify"
    return END  # unreachable with the policy node's fallback; kept as a guard


def route_after_tools(state: GeoState) -> Literal["verify", "policy"]:
    submitted = any(c["name"] == SUBMIT_TOOL for c in last_ai_message(state).tool_calls)
    return "verify" if submitted else "policy"


def route_after_verify(state: GeoState) -> Literal["commit", "policy"]:
    verdict = state.get("verdict") or {}
    max_rounds = LocateRequest.model_validate(state["request"]).max_verify_rounds
    if verdict.get("accepted") or state.get("verify_rounds", 0) >= max_rounds:
        return "commit"
    return "policy"


def build_graph(policy: Policy | None = None, checkpointer=None, *, llm: str | None = None,
                chat_model=None, base_url: str | None = None,
                boundary: ServeBoundary | None = None):
    """The compiled graph, ready to run alone or as a node of a parent graph (its input is
    ``{"request": {...}}`` or ``{"question": ...}``, its output ``prediction`` / ``reply``).

    The policy is one of ``policy``, an ``llm`` spec (``"google_genai:gemini-2.5-flash"``) or
    a LangChain ``chat_model``; none gives the deterministic offline policy. A run's
    ``configurable`` may set ``llm`` and any :class:`LocateSettings` field. Give a
    ``checkpointer`` for threads (follow-up questions, resuming). A served graph gives a
    ``boundary`` (agent/boundary.py): its clients' requests and ``configurable`` are untrusted."""
    if llm is not None or chat_model is not None:
        from sinoloc.agent.llm import policy_for

        policy = policy_for(policy, llm, chat_model, base_url)
    graph = StateGraph(GeoState, input_schema=GeoInput, output_schema=GeoOutput)
    graph.add_node("ingest", partial(ingest, boundary=boundary) if boundary else ingest)
    graph.add_node("followup", followup)
    graph.add_node("prelude", prelude)
    graph.add_node("policy", make_policy_node(policy or DeterministicPolicy(), boundary))
    graph.add_node("tools", run_tools)
    graph.add_node("verify", verify_node)
    graph.add_node("commit", commit)
    graph.add_conditional_edges(START, route_start)
    graph.add_edge("ingest", "prelude")
    graph.add_conditional_edges("followup", route_after_followup)
    graph.add_edge("prelude", "policy")
    graph.add_conditional_edges("policy", route_after_policy)
    graph.add_conditional_edges("tools", route_after_tools)
    graph.add_conditional_edges("verify", route_after_verify)
    graph.add_edge("commit", END)
    return graph.compile(checkpointer=checkpointer, name="sinoloc")
