"""Readable text for people (the CLI's default output)."""

from __future__ import annotations

import unicodedata

from sinoloc.agent.samples.report import SamplesReport
from sinoloc.agent.schemas import GeoPrediction, ToolTrace

TOOL_INDENT = " " * 6


def pct(value: float) -> str:
    """A probability as every text surface writes it (headline, candidates, chat), so one value
    never reads 0% in one place and 0.1% in another: whole percents from 10%, one decimal below,
    ``<0.1%`` for what is not zero but rounds to it."""
    percent = value * 100
    if percent == 0:
        return "0%"
    if percent >= 9.95:
        return f"{percent:.0f}%"
    return f"{percent:.1f}%" if percent >= 0.05 else "<0.1%"


def place_label(province: str | None, city: str | None = None, district: str | None = None) -> str:
    """The one way a place is written: ``浙江省杭州市西湖区``, a level that repeats the one above
    it left out (``北京市东城区``, ``广东省东莞市``), as the region index's labels read."""
    parts: list[str] = []
    for name in (province, city, district):
        if name and (not parts or name != parts[-1]):
            parts.append(name)
    return "".join(parts)


def place_names(p: GeoPrediction) -> str:
    """The answer's place (:func:`place_label`)."""
    return place_label(p.province, p.city, p.district)


def headline(p: GeoPrediction) -> str:
    return f"{place_names(p)}  ({p.lat:.5f}, {p.lon:.5f} WGS-84, ±{p.precision_km:.1f} km)"


GUESS_MARK = "GUESS (no locating evidence)"


def confidence_text(p: GeoPrediction) -> str:
    c = p.confidence
    return f"province {pct(c.province)} · city {pct(c.city)} · district {pct(c.district)}"


def summary_line(p: GeoPrediction) -> str:
    """One image's answer on one line (a batch's text output): a guess says so before the
    place, and every line carries its confidence, so a prior guess never reads like an answer
    the evidence backs."""
    mark = f"{GUESS_MARK}: " if p.basis == "prior_only" else ""
    return f"{mark}{headline(p)}  confidence {confidence_text(p)}"


CLAIMED_FIRST_NOTE = ("the answer: chosen top-down (province, then city, then district), "
                      "so it heads the list although a district elsewhere holds more")


def claimed_first_note(p: GeoPrediction) -> str | None:
    """Why the first candidate is there when a later one holds more belief (the answer heads its
    own list, and the decision goes down the province and city marginals), else None."""
    if len(p.candidates) < 2 or p.candidates[0].adcode != p.district_adcode:
        return None
    first = p.candidates[0].probability
    return CLAIMED_FIRST_NOTE if any(c.probability > first for c in p.candidates[1:]) else None


def candidate_lines(p: GeoPrediction, max_candidates: int = 5) -> list[str]:
    lines = []
    note = claimed_first_note(p)
    for c in p.candidates[:max_candidates]:
        label = place_label(c.province, c.city, c.district)
        mark = f"  * {note}" if note and c.rank == 1 else ""
        lines.append(f"  {c.rank:>2}. {label:<24} {c.adcode}  {pct(c.probability):>6}{mark}")
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
        f"confidence: {confidence_text(p)}   basis: {p.basis}",
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
