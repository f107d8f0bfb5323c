"""The LangGraph state graph: ingest → policy ⇄ tools → verify → commit.

``policy`` is the slot where a language model or the deterministic policy chooses the next
tool call; ``verify`` accepts a submitted answer or sends it back with reasons (at most
``max_verify_rounds`` times); ``commit`` turns the accepted answer into a GeoPrediction.
"""

from __future__ import annotations

import json
import time
from typing import Literal

from langchain_core.messages import HumanMessage, ToolMessage
from langgraph.graph import END, START, StateGraph
from pydantic import ValidationError

from ..tools.evidence import Evidence, EvidenceKind, PointSupport
from ..tools.images import load_image
from ..tools.regions import get_region_index
from .commit import build_prediction
from .policy import DeterministicPolicy, Policy
from .schemas import Answer, LocateRequest, ToolTrace, Verdict
from .state import GeoInput, GeoOutput, GeoState
from .toolbox import SUBMIT_TOOL, TOOLS, ToolContext
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
                    "answer": None, "verdict": None}
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
    update["messages"] = [HumanMessage(content=(
        f"Locate this {'panorama' if loaded.meta.is_panorama else 'photo'} "
        f"({loaded.meta.width}x{loaded.meta.height})."))]
    return {**update, **_timed("ingest", start)}


def make_policy_node(policy: Policy):
    def policy_node(state: GeoState) -> dict:
        start = time.perf_counter()
        message = policy(state)
        return {"messages": [message], "backend": policy.name,
                **_timed(f"policy_{len(state.get('tool_trace', []))}", start)}

    return policy_node


def run_tools(state: GeoState) -> dict:
    """Execute every non-submit tool call of the last AI message."""
    start = time.perf_counter()
    message = state["messages"][-1]
    context = ToolContext(request=state["request"], image=state.get("image", {}),
                          ocr_spans=list(state.get("ocr_spans", [])),
                          evidence=list(state.get("evidence", [])))
    next_id = len(state.get("evidence", [])) + 1
    update: dict = {"messages": [], "evidence": [], "ocr_spans": [], "ignored_text": [],
                    "poi_queries": [], "tool_trace": [], "timings": {}}
    for call in message.tool_calls:
        if call["name"] == SUBMIT_TOOL:
            continue
        t0 = time.perf_counter()
        spec = TOOLS.get(call["name"])
        ids: list[str] = []
        if spec is None:
            status, summary = "error", f"unknown tool {call['name']!r}; use one of {sorted(TOOLS)}"
        else:
            try:
                args = spec.args_model.model_validate(call.get("args") or {})
            except ValidationError as exc:
                status, summary = "error", f"bad arguments: {exc.errors(include_url=False)}"
            else:
                output = spec.run(args, context)
                status, summary = output.status, output.summary
                for item in output.evidence:
                    item = item.model_copy(update={"id": f"E{next_id}"})
                    next_id += 1
                    ids.append(item.id)
                    update["evidence"].append(item.model_dump(mode="json"))
                spans = [s.model_dump(mode="json") for s in output.ocr_spans]
                update["ocr_spans"] += spans
                context = ToolContext(request=context.request, image=context.image,
                                      ocr_spans=context.ocr_spans + spans,
                                      evidence=context.evidence + update["evidence"])
                update["ignored_text"] += [i.model_dump(mode="json") for i in output.ignored_text]
                update["poi_queries"] += output.poi_queries
        seconds = round(time.perf_counter() - t0, 4)
        step = len(state.get("tool_trace", [])) + len(update["tool_trace"])
        update["timings"][f"tool_{call['name']}_{step}"] = seconds
        update["tool_trace"].append(ToolTrace(
            call_id=call["id"], tool=call["name"], args=call.get("args") or {}, status=status,
            summary=summary, seconds=seconds, evidence_ids=ids).model_dump(mode="json"))
        update["messages"].append(ToolMessage(
            content=tool_message_content(status, summary, ids), tool_call_id=call["id"],
            name=call["name"]))
    update["timings"]["tools_total"] = round(
        state.get("timings", {}).get("tools_total", 0.0) + time.perf_counter() - start, 4)
    return update


def tool_message_content(status: str, summary: str, ids: list[str]) -> str:
    """What the policy reads back: the status, the result and the new evidence ids."""
    return json.dumps({"status": status, "result": summary, "evidence_ids": ids},
                      ensure_ascii=False)


def verify_node(state: GeoState) -> dict:
    start = time.perf_counter()
    message = state["messages"][-1]
    call = next(c for c in message.tool_calls if c["name"] == SUBMIT_TOOL)
    rounds = state.get("verify_rounds", 0) + 1
    max_rounds = LocateRequest.model_validate(state["request"]).max_verify_rounds
    evidence = [Evidence.model_validate(e) for e in state.get("evidence", [])]
    try:
        answer = Answer.model_validate(call.get("args") or {})
    except ValidationError as exc:
        verdict = Verdict(accepted=False, checks=[], round=rounds,
                          feedback=f"submit_answer arguments are invalid: "
                                   f"{exc.errors(include_url=False)}")
        answer = None
    else:
        verdict = verify(answer, evidence, get_region_index(), rounds, max_rounds)
    reply = "accepted" if verdict.accepted else verdict.feedback
    update = {"verdict": verdict.model_dump(mode="json"), "verify_rounds": rounds,
              "messages": [ToolMessage(content=reply, tool_call_id=call["id"], name=SUBMIT_TOOL)],
              **_timed(f"verify_{rounds}", start)}
    if answer is not None:
        update["answer"] = answer.model_dump(mode="json")
    return update


def commit(state: GeoState) -> dict:
    start = time.perf_counter()
    if state.get("answer") is None:
        raise RuntimeError("the policy never submitted a valid answer")
    timings = {**state.get("timings", {}), **_timed("commit", start)["timings"]}
    prediction = build_prediction({**state, "timings": timings}, get_region_index())
    return {"prediction": prediction.model_dump(mode="json"), **_timed("commit", start)}


# ------------------------------------------------------------------ routing (pure)
def route_after_policy(state: GeoState) -> Literal["tools", "verify", "__end__"]:
    message = state["messages"][-1]
    calls = getattr(message, "tool_calls", None) or []
    if any(c["name"] == SUBMIT_TOOL for c in calls):
        return "verify"
    if calls:
        return "tools"
    return END  # a policy that neither calls a tool nor submits ends the run (no prediction)


def route_after_verify(state: GeoState) -> Literal["commit", "policy"]:
    verdict = state.get("verdict") or {}
    max_rounds = LocateRequest.model_validate(state["request"]).max_verify_rounds
    if verdict.get("accepted") or state.get("verify_rounds", 0) >= max_rounds:
        return "commit" if state.get("answer") is not None else "policy"
    return "policy"


def build_graph(policy: Policy | None = None, checkpointer=None):
    """The compiled graph; ``policy`` defaults to the deterministic offline policy."""
    graph = StateGraph(GeoState, input_schema=GeoInput, output_schema=GeoOutput)
    graph.add_node("ingest", ingest)
    graph.add_node("policy", make_policy_node(policy or DeterministicPolicy()))
    graph.add_node("tools", run_tools)
    graph.add_node("verify", verify_node)
    graph.add_node("commit", commit)
    graph.add_edge(START, "ingest")
    graph.add_edge("ingest", "policy")
    graph.add_conditional_edges("policy", route_after_policy)
    graph.add_edge("tools", "policy")
    graph.add_conditional_edges("verify", route_after_verify)
    graph.add_edge("commit", END)
    return graph.compile(checkpointer=checkpointer, name="sinoloc")

