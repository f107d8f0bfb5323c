"""The policy slot: the node that chooses the next tool call.

:class:`DeterministicPolicy` fills it with the fixed order of the offline default (CNN prior →
OCR → clues → geocoding of street-level text → submit); a language model fills the same slot
with the same messages and tool calls (see the language-model agent issue).
"""

from __future__ import annotations

import uuid
from typing import Protocol

from langchain_core.messages import AIMessage

from ..tools.evidence import Evidence
from ..tools.regions import get_region_index
from .answering import fused_answer
from .schemas import ToolTrace, Verdict
from .state import GeoState
from .toolbox import SUBMIT_TOOL

MAX_GEOCODE_CALLS = 5


class Policy(Protocol):
    name: str

    def __call__(self, state: GeoState) -> AIMessage: ...


def _call(name: str, args: dict) -> dict:
    return {"name": name, "args": args, "id": f"call_{uuid.uuid4().hex[:12]}", "type": "tool_call"}


class DeterministicPolicy:
    name = "deterministic"

    def __call__(self, state: GeoState) -> AIMessage:
        traces = [ToolTrace.model_validate(t) for t in state.get("tool_trace", [])]
        done = {t.tool for t in traces}
        if "cnn_prior" not in done:
            return AIMessage(content="Visual prior first.", tool_calls=[_call("cnn_prior", {})])
        if "ocr" not in done:
            return AIMessage(content="Read the text in every view.", tool_calls=[_call("ocr", {})])
        if "lookup_clues" not in done:
            return AIMessage(content="Match the text against addresses, phones, plates, roads.",
                             tool_calls=[_call("lookup_clues", {})])
        asked = {(t.args.get("query"), t.args.get("within")) for t in traces
                 if t.tool == "geocode_poi"}
        pending = [q for q in state.get("poi_queries", [])
                   if (q["query"], q.get("within")) not in asked][:MAX_GEOCODE_CALLS]
        if pending and len(asked) < MAX_GEOCODE_CALLS:
            return AIMessage(content="Geocode the street-level text.", tool_calls=[
                _call("geocode_poi", {"query": q["query"], "within": q.get("within")})
                for q in pending])
        evidence = [Evidence.model_validate(e) for e in state.get("evidence", [])]
        verdict = Verdict.model_validate(state["verdict"]) if state.get("verdict") else None
        answer, _, _ = fused_answer(evidence, get_region_index(), verdict)
        return AIMessage(content=answer.reasoning,
                         tool_calls=[_call(SUBMIT_TOOL, answer.model_dump(mode="json"))])
