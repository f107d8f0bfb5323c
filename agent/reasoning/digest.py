"""Evidence as the model reads it: one JSON object per line, the text quoted as data."""

from __future__ import annotations

import json

from sinoloc.tools.evidence import Evidence


def evidence_digest(evidence: list[Evidence]) -> str:
    rows = []
    for e in evidence:
        row: dict[str, object] = {"id": e.id, "kind": e.kind.value, "text": e.text, "means": e.detail,
               "weight": round(e.effective_weight, 3)}
        if e.point is not None:
            row["point"] = [round(e.point.lat, 6), round(e.point.lon, 6)]
        rows.append(json.dumps(row, ensure_ascii=False))
    return "\n".join(rows) if rows else "(no locating evidence yet)"
