"""The union of what every trajectory found: the prelude's evidence and spans once, then each
trajectory's own, an item two trajectories found alike (the same call, the same reading) kept
once, renumbered E… / T… after the prelude's, and each trajectory's ids mapped to the union's.

The trajectory given first keeps its own numbering (the committed answer's reasoning cites its
ids); the others' new items follow it."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from sinoloc.agent.state import evidence_id


def _key(item: dict, drop: str) -> str:
    return json.dumps({k: v for k, v in item.items() if k != drop}, ensure_ascii=False,
                      sort_keys=True, default=str)


@dataclass
class Pool:
    """The union: evidence and span dicts, and per trajectory index its id maps."""

    evidence: list[dict] = field(default_factory=list)
    spans: list[dict] = field(default_factory=list)
    evidence_ids: dict[int, dict[str, str]] = field(default_factory=dict)
    span_ids: dict[int, dict[str, str]] = field(default_factory=dict)

    def new_evidence(self, prelude: int) -> list[dict]:
        return self.evidence[prelude:]

    def new_spans(self, prelude: int) -> list[dict]:
        return self.spans[prelude:]


def pool(prelude_evidence: list[dict], prelude_spans: list[dict],
         trajectories: list[dict[str, Any]]) -> Pool:
    """The union over ``trajectories`` (in the order given) after the prelude's items."""
    out = Pool(evidence=list(prelude_evidence), spans=list(prelude_spans))
    evidence_keys = {_key(e, "id"): e["id"] for e in out.evidence}
    span_keys = {_key(s, "span_id"): s["span_id"] for s in out.spans}
    for trajectory in trajectories:
        index = trajectory["index"]
        spans = {s["span_id"]: s["span_id"] for s in prelude_spans}
        for span in trajectory["ocr_spans"][len(prelude_spans):]:
            key = _key(span, "span_id")
            if key not in span_keys:
                span_keys[key] = f"T{len(out.spans) + 1}"
                out.spans.append({**span, "span_id": span_keys[key]})
            spans[span["span_id"]] = span_keys[key]
        ids = {e["id"]: e["id"] for e in prelude_evidence}
        for item in trajectory["evidence"][len(prelude_evidence):]:
            item = {**item, "span_id": spans.get(item.get("span_id"), item.get("span_id"))} \
                if item.get("span_id") else item
            key = _key(item, "id")
            if key not in evidence_keys:
                evidence_keys[key] = evidence_id(len(out.evidence) + 1)
                out.evidence.append({**item, "id": evidence_keys[key]})
            ids[item["id"]] = evidence_keys[key]
        out.evidence_ids[index], out.span_ids[index] = ids, spans
    return out


def remap_answer(answer: dict, ids: dict[str, str]) -> dict:
    """An answer's citations in the union's ids (an id the trajectory did not have stays as
    it is: verification already judged it)."""
    def mapped(values: list[str]) -> list[str]:
        return list(dict.fromkeys(ids.get(v, v) for v in values))

    out = dict(answer)
    for level in ("province_evidence", "city_evidence", "district_evidence"):
        out[level] = mapped(answer.get(level) or [])
    out["acknowledged_conflicts"] = {ids.get(k, k): v for k, v in
                                     (answer.get("acknowledged_conflicts") or {}).items()}
    return out


def remap_trace(trace: dict, ids: dict[str, str]) -> dict:
    return {**trace, "evidence_ids": [ids.get(i, i) for i in trace.get("evidence_ids") or []]}
