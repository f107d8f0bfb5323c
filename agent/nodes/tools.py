"""Running tool calls: the prelude every run starts with, and the ReAct tools node.

Both go through :func:`execute_calls`, which validates arguments, runs the typed tool, numbers
new evidence (E1, E2, …) and OCR spans, records the trace and answers every call with a
:class:`ToolMessage` — within the request's tool-call budget.
"""

from __future__ import annotations

import json
import time

from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langgraph.config import get_stream_writer
from pydantic import ValidationError

from sinoloc.agent.budgets import tool_calls_this_turn
from sinoloc.agent.reasoning.digest import evidence_digest
from sinoloc.agent.reasoning.locatability import locatability
from sinoloc.agent.reasoning.locatability_clip import clip_locatability
from sinoloc.agent.schemas import LocateRequest, ToolTrace
from sinoloc.agent.state import GeoState
from sinoloc.agent.toolbox.registry import SUBMIT_TOOL, TOOLS, ToolContext
from sinoloc.prompts import render_prompt
from sinoloc.tools.evidence import Evidence
from sinoloc.tools.secrets import scrub_secrets

PRELUDE = ("cnn_prior", "ocr", "lookup_clues")


def tool_message_content(status: str, summary: str, ids: list[str]) -> str:
    """What the policy reads back: the status, the result and the new evidence ids."""
    return json.dumps({"status": status, "result": summary, "evidence_ids": ids},
                      ensure_ascii=False)


def _stream_writer():
    """The graph's custom stream (``stream_mode="custom"``), or a no-op outside a graph run."""
    try:
        return get_stream_writer()
    except (RuntimeError, KeyError):  # no runnable context / a runnable that is not a graph
        return lambda _event: None


def execute_calls(state: GeoState, calls: list[dict]) -> dict:
    """Run ``calls`` in order (each sees what the earlier ones found) and return the update.
    Each call is announced on the custom stream when it starts and when it ends, so a viewer
    sees it as it happens."""
    write = _stream_writer()
    request = LocateRequest.model_validate(state["request"])
    context = ToolContext(request=state["request"], image=state.get("image", {}),
                          ocr_spans=list(state.get("ocr_spans", [])),
                          evidence=list(state.get("evidence", [])))
    next_id = len(state.get("evidence", [])) + 1
    done = len(state.get("tool_trace", []))
    spent_before = tool_calls_this_turn(state)
    update: dict = {"messages": [], "evidence": [], "ocr_spans": [], "ignored_text": [],
                    "poi_queries": [], "tool_trace": [], "timings": {}, "outbound": []}
    for call in calls:
        t0 = time.perf_counter()
        write({"event": "tool_start", "tool": call["name"], "args": call.get("args") or {},
               "call_id": call["id"]})
        step = done + len(update["tool_trace"])
        spec = TOOLS.get(call["name"])
        ids: list[str] = []
        if spent_before + len(update["tool_trace"]) >= request.max_tool_calls:
            status, summary = "error", (
                f"not run: the tool-call budget ({request.max_tool_calls}) is spent; "
                f"call {SUBMIT_TOOL} with your best answer now")
        elif call["name"] in request.disabled_tools:
            status, summary = "unavailable", "switched off for this run (ablation or baseline)"
        elif spec is None:
            status, summary = "error", f"unknown tool {call['name']!r}; use one of {sorted(TOOLS)}"
        else:
            try:
                args = spec.args_model.model_validate(call.get("args") or {})
            except ValidationError as exc:
                status, summary = "error", f"bad arguments: {exc.errors(include_url=False)}"
            else:
                try:
                    output = spec.run(args, context)
                except Exception as exc:  # a tool that raises never ends the run
                    status, summary = "error", scrub_secrets(  # a provider may echo its key
                        f"the tool failed: {exc.__class__.__name__}: {exc}")
                else:
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
                    update["ignored_text"] += [i.model_dump(mode="json")
                                               for i in output.ignored_text]
                    update["poi_queries"] += output.poi_queries
                    update["outbound"] += [q.model_dump(mode="json") for q in output.outbound]
        seconds = round(time.perf_counter() - t0, 4)
        update["timings"][f"tool_{call['name']}_{step}"] = seconds
        trace = ToolTrace(call_id=call["id"], tool=call["name"], args=call.get("args") or {},
                          status=status, summary=summary, seconds=seconds,
                          evidence_ids=ids).model_dump(mode="json")
        update["tool_trace"].append(trace)
        write({"event": "tool_end", "trace": trace})
        update["messages"].append(ToolMessage(
            content=tool_message_content(status, summary, ids), tool_call_id=call["id"],
            name=call["name"], status="error" if status == "error" else "success"))
    return update


def last_ai_message(state: GeoState) -> AIMessage:
    return next(m for m in reversed(state["messages"]) if isinstance(m, AIMessage))


def run_tools(state: GeoState) -> dict:
    """The ReAct tools node: every call of the last AI message except ``submit_answer``."""
    start = time.perf_counter()
    calls = [c for c in last_ai_message(state).tool_calls if c["name"] != SUBMIT_TOOL]
    update = execute_calls(state, calls)
    update["timings"]["tools_total"] = round(
        state.get("timings", {}).get("tools_total", 0.0) + time.perf_counter() - start, 4)
    return update


def prelude(state: GeoState) -> dict:
    """The mandatory first steps (visual prior, OCR over every view, clue lookup), shown to
    the policy as one message with the numbered evidence."""
    start = time.perf_counter()
    calls = [{"name": name, "args": {}, "id": f"prelude_{i}", "type": "tool_call"}
             for i, name in enumerate(PRELUDE, start=1)]
    update = execute_calls(state, calls)
    image = state.get("image", {})
    evidence = [*state.get("evidence", []), *update["evidence"]]
    clip = clip_locatability(state["request"]["image_path"])
    located = locatability([Evidence.model_validate(e) for e in evidence], update["ocr_spans"],
                           clip)
    update["locatability"] = located.model_dump(mode="json")
    results = "\n\n".join(f"### {t['tool']} ({t['status']})\n{t['summary']}"
                          for t in update["tool_trace"])
    text = render_prompt(
        "prelude", kind="panorama" if image.get("is_panorama") else "photo",
        width=image.get("width", "?"), height=image.get("height", "?"),
        tool_results=results, evidence=evidence_digest(evidence),
        locatability=f"{located.score:.2f} ({located.band}; "
                     + ", ".join(f"{k} {v:.2f}" for k, v in located.components.items()) + ")")
    update["messages"] = [HumanMessage(content=text)]
    update["timings"]["prelude"] = round(time.perf_counter() - start, 4)
    return update
