"""The text tools: location clues in what OCR read (``lookup_clues``: addresses, phone numbers,
plates, place names; text addressed to a model is set aside) and the clue knowledge base
(``lookup_knowledge``)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from sinoloc.agent.toolbox.context import ToolContext, ToolOutput
from sinoloc.tools.clues import ClueKind, extract_clues
from sinoloc.tools.clues.signs import region_support
from sinoloc.tools.evidence import Evidence, EvidenceKind, IgnoredText, clue_to_evidence
from sinoloc.tools.injection import flag_instructions
from sinoloc.tools.ocr import OcrSpan


def instruction_reason(cue: str) -> str:
    """The ignored-text reason for a span the injection detector flagged, with its cue."""
    return f"text addressed to a model ({cue}), not a location clue (treated as data)"


class CluesArgs(BaseModel):
    span_ids: list[str] | None = Field(default=None, description="OCR span ids; all if omitted")
    text: str | None = Field(default=None, description="extra text to analyse")


def _clue_spans(args: CluesArgs, ctx: ToolContext) -> tuple[list[OcrSpan], list[IgnoredText]]:
    """The spans to read clues from, and the ones set aside as instructions to a model. Judged
    among all spans (an instruction split over two signs, a zoomed re-read), so a flagged span
    yields no clue at all: not its address, not its phone number."""
    spans = list(ctx.ocr_spans)
    if args.text:
        spans.append(OcrSpan(span_id="text", text=args.text, score=1.0, view_id="given"))
    flags = flag_instructions(spans)
    if args.span_ids is not None:
        wanted = set(args.span_ids) | {"text"}
        spans = [s for s in spans if s.span_id in wanted]
    ignored = [IgnoredText(text=s.text, span_id=s.span_id,
                           reason=instruction_reason(flags[s.span_id]))
               for s in spans if s.span_id in flags]
    return [s for s in spans if s.span_id not in flags], ignored


def _add_clue(clue, out: ToolOutput, known: dict[tuple, str]) -> str | None:
    """File one clue in ``out`` as evidence, ignored text or a POI query; the id of the
    evidence it repeats when the same reading is already in the evidence (it must not count
    twice in fusion)."""
    converted = clue_to_evidence(clue, trace=f"lookup_clues({clue.span_id}: {clue.text})")
    if isinstance(converted, Evidence):
        key = (converted.kind.value, converted.text, converted.span_id)
        if key in known:
            return known[key]
        out.evidence.append(converted)
    elif isinstance(converted, IgnoredText):
        out.ignored_text.append(converted)
    elif clue.kind is ClueKind.POI_QUERY:
        out.poi_queries.append({"query": clue.text, "within": clue.within,
                                "span_id": clue.span_id})
    return None


def lookup_clues(args: CluesArgs, ctx: ToolContext) -> ToolOutput:
    spans, ignored = _clue_spans(args, ctx)
    clues = extract_clues(spans)
    out = ToolOutput(status="ok" if clues else "no_result", summary="", ignored_text=ignored)
    known = {(e.kind.value, e.text, e.span_id): e.id for e in ctx.evidence}
    repeated = [r for r in (_add_clue(clue, out, known) for clue in clues) if r is not None]
    parts = [f"- {c.kind.value}: {c.detail}" for c in clues]
    parts += [f"- ignored {i.span_id}: {i.reason}" for i in out.ignored_text]
    if repeated:
        parts.append(f"- already in the evidence as {', '.join(sorted(set(repeated)))} "
                     "(not added again)")
    out.summary = ("\n".join(parts) if parts else "no location clue in the text")
    return out


class KnowledgeArgs(BaseModel):
    query: str = Field(description="a clue in words, Chinese or English: what you see "
                       "(\"Tibetan script on shop signs\", \"红土和喀斯特峰林\") or a question "
                       "(\"which provinces use yellow-black bollards?\")")
    region: str | None = Field(default=None, description="only clues pointing into this "
                               "province or city (name or adcode)")
    k: int = Field(default=5, ge=1, le=10, description="how many entries to return")
    seen_in_image: bool = Field(default=True, description=(
        "true when the query describes something visible in this image: the best matching "
        "entries become evidence you can cite; false for a background question"))


def lookup_knowledge(args: KnowledgeArgs, ctx: ToolContext) -> ToolOutput:
    from sinoloc.tools.knowledge.retrieval import get_knowledge_index, pick_best

    index = get_knowledge_index()
    try:
        hits = index.search(args.query, region=args.region, k=args.k)
    except ValueError as exc:  # an unknown region name
        return ToolOutput(status="error", summary=str(exc))
    if not hits:
        return ToolOutput(status="no_result", summary=(
            f"no knowledge entry matches {args.query!r}"
            + (f" within {args.region}" if args.region else "")))
    corpus = index.corpus
    out = ToolOutput(status="ok", summary="")
    lines = []
    for rank, hit in enumerate(hits, start=1):
        entry = hit.entry
        where = ("、".join(corpus.region_names(entry)) if entry.locates
                 else "does not localise")
        limits = []
        if entry.exclusive:
            limits.append("only there")
        if entry.excludes:
            limits.append("never in " + "、".join(corpus.excluded_names(entry)))
        lines.append(f"{rank}. [{entry.id}] ({entry.kind.value}) {entry.clue_zh} / {entry.clue_en}"
                     f" → {where} (strength {entry.strength:.2f}"
                     + (f"; {'; '.join(limits)}" if limits else "") + f"); source: {entry.source}")
    best = pick_best(hits) if args.seen_in_image else None
    if best is not None and best.entry.locates:  # one observation per call: its entry
        out.evidence.append(_observed(best, corpus, args.query))
    out.summary = "\n".join(lines)
    return out


OBSERVED_CONFIDENCE = 0.6  # a model's own visual reading, matched to an entry by retrieval


def _observed(hit, corpus, query: str) -> Evidence:
    """Evidence for a clue the model says it sees, as strong as the entry and as sure as the
    match (a model's visual reading is never as sure as OCR'd text)."""
    entry = hit.entry
    return Evidence(
        kind=EvidenceKind.KNOWLEDGE, text=entry.clue_zh, source=f"knowledge:{entry.id}",
        regions=region_support(entry, corpus),
        weight=entry.strength, confidence=round(OBSERVED_CONFIDENCE * hit.coverage, 3),
        detail=f"{entry.clue_en} (source: {entry.source})",
        trace=f"lookup_knowledge({query!r})", knowledge_id=entry.id)
