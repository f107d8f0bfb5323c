"""Running tool calls: validate the arguments, run the typed tool, number new evidence (E1, E2, …)
and OCR spans, record the trace and answer every call with a :class:`ToolMessage`, within the
request's tool-call budget. The graph's prelude and tools nodes and the LangChain tools
(:mod:`sinoloc.agent.toolbox.langchain`) all run tools through :func:`execute_calls`.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Mapping, Sequence
from functools import partial
from typing import Any

from langchain_core.messages import ToolMessage
from langgraph.config import get_stream_writer
from pydantic import ValidationError

from sinoloc.agent.budgets import tool_calls_this_turn
from sinoloc.agent.records.session import ReplayMiss, tool_exchange
from sinoloc.agent.samples.cache import run_shared, shared_cache
from sinoloc.agent.schemas import ToolStatus, ToolTrace
from sinoloc.agent.state import evidence_id
from sinoloc.agent.toolbox.context import ToolContext, ToolOutput
from sinoloc.agent.toolbox.registry import SUBMIT_TOOL, TOOLS
from sinoloc.tools.secrets import scrub_secrets


def tool_call(name: str, args: dict, call_id: str | None = None) -> dict:
    """A tool call as a policy writes one (LangChain's ``ToolCall`` shape; a fresh id unless
    the caller gives one)."""
    return {"name": name, "args": args, "id": call_id or f"call_{uuid.uuid4().hex[:12]}",
            "type": "tool_call"}


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


SWITCHED_OFF = "switched off for this run (ablation or baseline)"


def run_call(call: Mapping[str, Any], context: ToolContext, spent: int,
             cache=None) -> tuple[ToolStatus, str, ToolOutput | None]:
    """One call's status and summary, and the tool's output when it ran: refused past the
    budget, for a switched-off or unknown tool and for bad arguments; a tool that raises never
    ends the run (its error is the result). With a ``cache`` (the trajectories of one image
    share one) an identical call is made once."""
    request = context.request
    spec = TOOLS.get(call["name"])
    if spent >= request.max_tool_calls:
        return "error", (f"not run: the tool-call budget ({request.max_tool_calls}) is spent; "
                         f"call {SUBMIT_TOOL} with your best answer now"), None
    if call["name"] in request.disabled_tools:
        return "unavailable", SWITCHED_OFF, None
    if spec is None:
        return "error", f"unknown tool {call['name']!r}; use one of {sorted(TOOLS)}", None
    try:
        args = spec.args_model.model_validate(call.get("args") or {})
    except ValidationError as exc:
        return "error", f"bad arguments: {exc.errors(include_url=False)}", None

    # recorded, or served by a replay (agent/records); with a cache (samples > 1) an identical
    # call of another trajectory is made once, and each trajectory's call is its own step
    exchange = partial(tool_exchange, spec.name, args.model_dump(mode="json"), context)
    try:
        output = exchange(lambda: spec.run(args, context)) if cache is None else run_shared(
            cache, call["name"], args, context, lambda: spec.run(args, context), exchange)
    except ReplayMiss:
        raise  # the record lacks this call: the image stops (or was told to go live)
    except Exception as exc:  # a tool that raises never ends the run
        return "error", scrub_secrets(  # a provider may echo its key
            f"the tool failed: {exc.__class__.__name__}: {exc}"), None
    return output.status, output.summary, output


def _trajectory_of(state: Mapping[str, Any]) -> dict:
    """``{"sample": k}`` in a trajectory's tool events (samples > 1: they run side by side, and a
    viewer is told which one calls what), else nothing."""
    sample = state.get("sample")
    index = sample.get("index") if isinstance(sample, dict) else None
    return {} if index is None else {"sample": index}


def execute_calls(state: Mapping[str, Any], calls: Sequence[Mapping[str, Any]]) -> dict:
    """Run ``calls`` in order (each sees what the earlier ones found) and return the update.
    Each call is announced on the custom stream when it starts and when it ends, so a viewer
    sees it as it happens."""
    write = _stream_writer()
    sample = _trajectory_of(state)
    context = ToolContext.from_state(state)
    next_id = len(state.get("evidence", [])) + 1
    done = len(state.get("tool_trace", []))
    spent_before = tool_calls_this_turn(state)
    cache = shared_cache(state)
    update: dict = {"messages": [], "evidence": [], "ocr_spans": [], "ignored_text": [],
                    "poi_queries": [], "tool_trace": [], "timings": {}, "outbound": []}
    for call in calls:
        t0 = time.perf_counter()
        write({"event": "tool_start", "tool": call["name"], "args": call.get("args") or {},
               "call_id": call["id"], **sample})
        step = done + len(update["tool_trace"])
        status, summary, output = run_call(call, context, spent_before + len(update["tool_trace"]),
                                          cache)
        ids: list[str] = []
        if output is not None:
            found = [item.model_copy(update={"id": evidence_id(next_id + i)})
                     for i, item in enumerate(output.evidence)]
            next_id += len(found)
            ids = [item.id for item in found]
            update["evidence"] += [item.model_dump(mode="json") for item in found]
            update["ocr_spans"] += [s.model_dump(mode="json") for s in output.ocr_spans]
            update["ignored_text"] += [i.model_dump(mode="json") for i in output.ignored_text]
            update["poi_queries"] += output.poi_queries
            update["outbound"] += [q.model_dump(mode="json") for q in output.outbound]
            context = context.with_found(output.ocr_spans, found)
        seconds = round(time.perf_counter() - t0, 4)
        update["timings"][f"tool_{call['name']}_{step}"] = seconds
        trace = ToolTrace(call_id=call["id"], tool=call["name"], args=call.get("args") or {},
                          status=status, summary=summary, seconds=seconds,
                          evidence_ids=ids).model_dump(mode="json")
        update["tool_trace"].append(trace)
        write({"event": "tool_end", "trace": trace, **sample})
        update["messages"].append(ToolMessage(
            content=tool_message_content(status, summary, ids), tool_call_id=call["id"],
            name=call["name"], status="error" if status == "error" else "success",
            artifact={"images": output.images} if output is not None and output.images
            else None))
    return update
