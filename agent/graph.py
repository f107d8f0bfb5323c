"""The LangGraph state graph: ingest → prelude → policy ⇄ tools → verify → commit.

``prelude`` runs the visual prior, OCR and the clue lookup and shows the numbered evidence to the
policy; ``policy`` is the slot where a language model or the deterministic policy chooses the
next tool call; ``verify`` accepts a submitted answer or sends it back with reasons (at most
``max_verify_rounds`` times); ``commit`` turns the accepted answer into a GeoPrediction, or the
fusion engine's answer when the submitted one never passed.
"""

from __future__ import annotations

import time
from typing import Literal

from langchain_core.messages import AIMessage, ToolMessage
from langgraph.graph import END, START, StateGraph
from pydantic import ValidationError

from ..tools.evidence import Evidence, EvidenceKind, PointSupport
from ..tools.images import load_image
from ..tools.regions import get_region_index
from .answering import fused_answer
from .commit import build_prediction
from .policy import DeterministicPolicy, Policy
from .policy_node import FUSION, make_policy_node
from .schemas import Answer, LocateRequest, Verdict
from .state import GeoInput, GeoOutput, GeoState
from .tool_node import last_ai_message, prelude, run_tools
from .toolbox import SUBMIT_TOOL
from .verify import verify

EXIF_WEIGHT = 0.999  # EXIF GPS is decisive unless switched off


def _timed(name: str, start: float) -> dict:
    return {"timings": {name: round(time.perf_counter() - start, 4)}}


def ingest(state: GeoState) -> dict:
    """Decode the image, record its metadata, and turn EXIF GPS into evidence."""
    start = time.perf_counter()
    request = LocateRequest.model_validate(state["request"])
    loaded = load_image(request.image_path)  # ImageInputError propagates: bad input
    update: dict = {"image": loaded.meta.model_dump(mode="json"), "verify_rounds": 0,
                    "answer": None, "verdict": None, "started_at": time.time()}
    gps = loaded.meta.exif_gps
    if gps is not None and not request.ignore_exif:
        region = get_region_index().reverse(gps.lon, gps.lat)
        where = get_region_index().label(region) if region else "outside the region data"
        update["evidence"] = [Evidence(
            id="E1", kind=EvidenceKind.EXIF_GPS, text=f"{gps.lat:.6f}, {gps.lon:.6f}",
            source="image EXIF GPS", point=PointSupport(lat=gps.lat, lon=gps.lon, radius_km=0.05),
            weight=EXIF_WEIGHT, confidence=1.0, detail=f"camera GPS fix in {where}",
            trace="EXIF GPSInfo").model_dump(mode="json")]
    elif gps is not None:
        update["warnings"] = ["the image has EXIF GPS, ignored as requested (--ignore-exif)"]
    return {**update, **_timed("ingest", start)}


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
    return {"prediction": prediction.model_dump(mode="json"), **_timed("commit", start)}


# ------------------------------------------------------------------ routing (pure)
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


def build_graph(policy: Policy | None = None, checkpointer=None):
    """The compiled graph; ``policy`` defaults to the deterministic offline policy."""
    graph = StateGraph(GeoState, input_schema=GeoInput, output_schema=GeoOutput)
    graph.add_node("ingest", ingest)
    graph.add_node("prelude", prelude)
    graph.add_node("policy", make_policy_node(policy or DeterministicPolicy()))
    graph.add_node("tools", run_tools)
    graph.add_node("verify", verify_node)
    graph.add_node("commit", commit)
    graph.add_edge(START, "ingest")
    graph.add_edge("ingest", "prelude")
    graph.add_edge("prelude", "policy")
    graph.add_conditional_edges("policy", route_after_policy)
    graph.add_conditional_edges("tools", route_after_tools)
    graph.add_conditional_edges("verify", route_after_verify)
    graph.add_edge("commit", END)
    return graph.compile(checkpointer=checkpointer, name="sinoloc")
