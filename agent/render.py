"""Readable text for people (the CLI's default output)."""

from __future__ import annotations

from .schemas import GeoPrediction


def _pct(value: float) -> str:
    return f"{value * 100:.0f}%"


def place_names(p: GeoPrediction) -> str:
    """``浙江省 杭州市 西湖区`` (a level repeating the one above it is left out)."""
    return " ".join(n for n in (p.province, p.city if p.city != p.province else None,
                                p.district if p.district != p.city else None) if n)


def headline(p: GeoPrediction) -> str:
    return f"{place_names(p)}  ({p.lat:.5f}, {p.lon:.5f} WGS-84, ±{p.precision_km:.1f} km)"


def candidate_lines(p: GeoPrediction, max_candidates: int = 5) -> list[str]:
    lines = []
    for c in p.candidates[:max_candidates]:
        label = "".join(x for x in (c.province, c.city if c.city != c.province else None,
                                    c.district if c.district != c.city else None) if x)
        lines.append(f"  {c.rank:>2}. {label:<24} {c.adcode}  {c.probability * 100:5.1f}%")
    return lines


def evidence_lines(p: GeoPrediction) -> list[str]:
    if not p.evidence:
        return ["  (none)"]
    return [f"  {e.id:<4} {e.kind.value:<12} «{e.text}»  w={e.weight:.2f}×{e.confidence:.2f}  "
            f"{e.detail}" for e in p.evidence]


def render_text(p: GeoPrediction, max_candidates: int = 5) -> str:
    lines = [
        headline(p),
        f"confidence: province {_pct(p.confidence.province)} · city {_pct(p.confidence.city)} · "
        f"district {_pct(p.confidence.district)}   basis: {p.basis}",
        "",
        p.reasoning,
        "",
        "candidates:",
    ]
    lines += candidate_lines(p, max_candidates)
    lines.append("evidence:")
    lines += evidence_lines(p)
    if p.ignored_text:
        lines.append("ignored text:")
        lines += [f"  «{i.text}»: {i.reason}" for i in p.ignored_text]
    if p.warnings:
        lines.append("warnings:")
        lines += [f"  - {w}" for w in p.warnings]
    lines.append("tool calls:")
    for i, t in enumerate(p.tool_calls, start=1):
        args = ", ".join(f"{k}={v!r}" for k, v in t.args.items() if v is not None)
        first = t.summary.splitlines()[0] if t.summary else ""
        ids = f" → {', '.join(t.evidence_ids)}" if t.evidence_ids else ""
        lines.append(f"  {i:>2}. {t.tool}({args}) {t.status}{ids}: {first[:100]}")
    if p.outbound_queries:
        lines.append("online queries:")
        for q in p.outbound_queries:
            params = ", ".join(f"{k}={v}" for k, v in q.params.items())
            how = ("answered from the cache, not sent" if q.cached
                   else f"sent: {q.status}, {q.seconds:.2f} s")
            lines.append(f"  {q.provider} {q.endpoint} ({params}) [{how}]")
    backend = f"backend: {p.backend}, answered by {p.answered_by}"
    if p.backend_fallback:
        backend += f" (fell back to the deterministic policy: {p.backend_fallback})"
    lines.append(backend)
    u = p.usage
    if u.model_calls or u.model_errors:
        cost = f", ${u.cost_usd:.4f}" if u.cost_usd is not None else ", cost unknown"
        lines.append(f"model: {u.model_calls} calls ({u.model_errors} failed), "
                     f"{u.input_tokens} input + {u.output_tokens} output tokens{cost}")
    total = p.timings.get("total")
    if total is not None:
        lines.append(f"time: {total:.2f} s ({u.tool_calls} tool calls)")
    return "\n".join(lines)
