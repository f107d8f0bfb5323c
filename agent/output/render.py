"""Readable text for people (the CLI's default output)."""

from __future__ import annotations

import unicodedata

from sinoloc.agent.samples.report import SamplesReport
from sinoloc.agent.schemas import GeoPrediction, ToolTrace

TOOL_INDENT = " " * 6


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


def _cells(text: str) -> int:
    """Terminal columns: CJK (wide and full-width) characters take two."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _pieces(text: str) -> list[str]:
    """Break points: after a space, and between two CJK characters (Chinese has no spaces)."""
    out, current = [], ""
    for c in text:
        wide = unicodedata.east_asian_width(c) in "WF"
        if current and (current[-1] == " " or (wide and _cells(current[-1]) == 2)):
            out.append(current)
            current = ""
        current += c
    return [*out, current] if current else out


def wrap(line: str, width: int | None, indent: str = "    ") -> list[str]:
    """``line`` cut to ``width`` terminal columns at spaces or between CJK characters,
    continuation lines indented; unchanged when ``width`` is None (piped output keeps whole
    lines for grep). Never cut mid-word: a word longer than the line stays whole."""
    if not width or _cells(line) <= width:
        return [line]
    lead = line[:len(line) - len(line.lstrip())] + indent
    lines, current = [], ""
    for piece in _pieces(line):
        if current.strip() and _cells(current + piece.rstrip()) > width:
            lines.append(current.rstrip())
            current = lead
        current += piece
    return [*lines, current.rstrip()]


def tool_lines(i: int, t: ToolTrace) -> list[str]:
    """What the tool was asked and everything it said: the summary whole (OCR's text lines,
    each clue), its first sentence on the call's line and the rest below it."""
    args = ", ".join(f"{k}={v!r}" for k, v in t.args.items() if v is not None)
    ids = f" → {', '.join(t.evidence_ids)}" if t.evidence_ids else ""
    summary = [line.strip() for line in (t.summary or "").splitlines() if line.strip()]
    inline = bool(summary) and not summary[0].startswith("- ")  # a list goes below, whole
    first = f": {summary[0]}" if inline else ""
    return [f"  {i:>2}. {t.tool}({args}) {t.status}{ids}{first}",
            *(TOOL_INDENT + line for line in summary[int(inline):])]


def outbound_lines(p: GeoPrediction) -> list[str]:
    """What was asked of online providers (and whether it was sent)."""
    if not p.outbound_queries:
        return []
    lines = ["online queries:"]
    for q in p.outbound_queries:
        params = ", ".join(f"{k}={v}" for k, v in q.params.items())
        how = ("answered from the cache, not sent" if q.cached
               else f"sent: {q.status}, {q.seconds:.2f} s")
        lines.append(f"  {q.provider} {q.endpoint} ({params}) [{how}]")
    return lines


def run_lines(p: GeoPrediction) -> list[str]:
    """The backend, the model's usage and cost, and the run's time."""
    backend = f"backend: {p.backend}, answered by {p.answered_by}"
    if p.backend_fallback:
        backend += f" (fell back to the deterministic policy: {p.backend_fallback})"
    lines = [backend]
    u = p.usage
    if u.model_calls or u.model_errors:
        cost = f", ${u.cost_usd:.4f}" if u.cost_usd is not None else ", cost unknown"
        lines.append(f"model: {u.model_calls} calls ({u.model_errors} failed), "
                     f"{u.input_tokens} input + {u.output_tokens} output tokens{cost}")
    total = p.timings.get("total")
    if total is not None:
        lines.append(f"time: {total:.2f} s ({u.tool_calls} tool calls)")
    return lines


def sample_lines(s: SamplesReport) -> list[str]:
    """The trajectories (samples > 1): agreement, the pick and why, each one's answer and cost."""
    how = {"evidence": "best supported by the pooled evidence", "verifier": "the verifier's pick",
           "fusion": "none passed: the pooled belief's answer"}[s.selected_by]
    picked = f"trajectory {s.selected}" if s.selected is not None else "no trajectory"
    lines = [f"trajectories: {s.k} of {s.requested} asked, agreement {s.agreeing}/{s.k} "
             f"({s.agreement:.2f}); {picked}, {how}; {s.model_calls_per_trajectory} model "
             f"calls each of the image's {s.image_model_calls}; tool cache "
             f"{s.tool_cache.get('hits', 0)} of {s.tool_cache.get('calls', 0)} calls repeated"]
    for t in s.trajectories:
        sampled = f"T={t.temperature:g}" if t.temperature is not None else "T=model's"
        verdict = ("voted" if t.voted else "no vote") + (f", failed: {t.failure}" if t.failure
                                                          else "")
        lines.append(f"  {t.index}. {t.variant} ({sampled}): {t.answer} by {t.answered_by} "
                     f"[{verdict}; {t.model_calls} model, {t.tool_calls} tool calls]")
    return lines


def render_text(p: GeoPrediction, max_candidates: int = 5, width: int | None = None) -> str:
    """The answer for people; ``width`` (the terminal's) wraps long lines at spaces."""
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
        lines += tool_lines(i, t)
    lines += outbound_lines(p)
    if p.samples is not None:
        lines += sample_lines(p.samples)
    lines += run_lines(p)
    return "\n".join(out for line in lines for out in wrap(line, width))
