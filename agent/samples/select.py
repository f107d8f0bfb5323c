"""The selector node: the trajectories' findings pooled (:mod:`~.pool`), their answers judged
by the pooled belief (:mod:`sinoloc.agent.reasoning.selector`) or a verifier model
(:mod:`~.verifier`), and the update that makes the chosen trajectory the image's run: its
answer and conversation, the union of everything found, every trajectory's tool calls and the
cost of all of them, and the :class:`~.report.SamplesReport` the prediction carries."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from langgraph.types import Overwrite

from sinoloc.agent.nodes.policy import FUSION
from sinoloc.agent.reasoning.answering import fused_answer
from sinoloc.agent.reasoning.selector import Ballot, Selection, ballot, label, select
from sinoloc.agent.samples.cache import drop_cache
from sinoloc.agent.samples.plan import SamplePlan
from sinoloc.agent.samples.pool import Pool, pool, remap_answer, remap_trace
from sinoloc.agent.samples.report import SamplesReport, TrajectorySummary
from sinoloc.agent.schemas import Answer
from sinoloc.agent.state import add_counts, evidence_in
from sinoloc.tools.fusion import fuse
from sinoloc.tools.regions import RegionIndex, get_region_index

POOLED_FALLBACK = ("no trajectory's own answer passed verification: committed the fusion "
                   "engine's answer from the pooled evidence of all trajectories")


def _voting(result: Mapping[str, Any]) -> bool:
    return result.get("answered_by") != FUSION and bool((result.get("verdict") or {}).get(
        "accepted")) and result.get("answer") is not None


def _summary(result: Mapping[str, Any], ballot_: Ballot, index: RegionIndex,
             prelude_calls: int) -> TrajectorySummary:
    usage = result.get("usage") or {}
    sample = result["sample"]
    return TrajectorySummary(
        index=result["index"], variant=sample["variant"], temperature=sample["temperature"],
        answer=label(ballot_, index), answered_by=result.get("answered_by") or FUSION,
        verified=bool((result.get("verdict") or {}).get("accepted")), voted=ballot_.voting,
        model_calls=usage.get("model_calls", 0), model_errors=usage.get("model_errors", 0),
        tool_calls=len(result.get("tool_trace") or []) - prelude_calls,
        failure=result.get("backend_fallback"))


def disagreement_warning(selection: Selection, k: int, chosen: str) -> str:
    others = ", ".join(f"{name} ({share:.2f})" for name, share in selection.support.items()
                       if name != chosen)
    return (f"the {k} trajectories disagreed ({selection.distinct} different answers): "
            f"committed {chosen}, the answer the pooled evidence of all trajectories supports "
            f"best ({selection.support.get(chosen, 0):.2f}; others: {others})")


def choose(plan: SamplePlan, ballots: list[Ballot], belief, union: list, verifier=None
           ) -> tuple[Selection, str, dict[str, int], list[str]]:
    """The selection, who made it, the verifier's usage and what it has to say."""
    index = get_region_index()
    selection = select(ballots, belief, index)
    selected_by = "evidence" if selection.chosen is not None else "fusion"
    if plan.selector != "verifier" or selection.distinct < 2 or verifier is None:
        return selection, selected_by, {}, []
    groups: dict[tuple, list[Ballot]] = {}
    for b in ballots:
        if b.voting:
            groups.setdefault(b.claim, []).append(b)
    picked, spent, failure = verifier(list(groups.values()), union)
    if picked is None:
        return selection, selected_by, spent, [f"the verifier failed ({failure}); the pooled "
                                               "evidence chose"]
    return select(ballots, belief, index, prefer=picked.index), "verifier", spent, []


def committed(chosen: dict | None, results: list[dict], final: Pool) -> dict[str, Any]:
    """The answer and the conversation the image's run goes on with: the chosen trajectory's
    (its ids in the union), or the fused answer of the pooled evidence."""
    if chosen is not None:
        return {"answer": remap_answer(chosen["answer"], final.evidence_ids[chosen["index"]]),
                "verdict": chosen.get("verdict"), "answered_by": chosen.get("answered_by"),
                "backend": chosen.get("backend"),
                "backend_fallback": chosen.get("backend_fallback"),
                "messages": chosen.get("messages") or []}
    fused, _, _ = fused_answer(evidence_in({"evidence": final.evidence}), get_region_index())
    return {"answer": fused.model_dump(mode="json"), "verdict": None, "answered_by": FUSION,
            "backend": results[0].get("backend") if results else None,
            "backend_fallback": next((r.get("backend_fallback") for r in results
                                      if r.get("backend_fallback")), None),
            "messages": results[0].get("messages") if results else []}


def found(state: Mapping[str, Any], results: list[dict], final: Pool) -> dict[str, Any]:
    """Everything the trajectories found and did, past the prelude's: the union's new evidence
    and spans, every tool call (ids in the union), every outbound query, POI query and ignored
    text, and each one's timings (prefixed ``t<index>_``)."""
    def new(key: str) -> list:
        return [item for r in results for item in (r.get(key) or [])[len(state.get(key, [])):]]

    prelude_t = len(state.get("tool_trace", []))
    timings: dict[str, float] = {}
    for r in results:
        timings.update({f"t{r['index']}_{k}": v for k, v in (r.get("timings") or {}).items()})
    return {"evidence": final.new_evidence(len(state.get("evidence", []))),
            "ocr_spans": final.new_spans(len(state.get("ocr_spans", []))),
            "tool_trace": [remap_trace(t, final.evidence_ids[r["index"]])
                           for r in results for t in (r.get("tool_trace") or [])[prelude_t:]],
            "outbound": new("outbound"), "poi_queries": new("poi_queries"),
            "ignored_text": new("ignored_text"), "timings": timings}


def chosen_result(selection: Selection, results: list[dict]) -> dict | None:
    """The selected trajectory's result; a single trajectory (K lowered) is committed as it
    ended, like a one-trajectory run."""
    chosen = next((r for r in results if selection.chosen is not None
                   and r["index"] == selection.chosen.index), None)
    return results[0] if chosen is None and len(results) == 1 else chosen


def selection_warnings(results: list[dict], chosen: dict | None, selection: Selection,
                       index: RegionIndex) -> list[str]:
    """Each trajectory's own warnings, then the pooled fallback or the disagreement."""
    warnings = [f"trajectory {r['index']}: {w}" for r in results for w in r.get("warnings") or []]
    if chosen is None:
        warnings.append(POOLED_FALLBACK)
    elif selection.disagreed and selection.chosen is not None:
        warnings.append(disagreement_warning(selection, len(results),
                                             label(selection.chosen, index)))
    return warnings


def trajectories_report(state: Mapping[str, Any], plan: SamplePlan, results: list[dict],
                   ballots: list[Ballot], picked: tuple[Selection, str, dict | None],
                   notes: list[str]) -> SamplesReport:
    """What the prediction says about the trajectories (``picked``: the selection, who made
    it and the chosen result); the image's tool cache is dropped here."""
    selection, selected_by, chosen = picked
    index = get_region_index()
    prelude_calls = len(state.get("tool_trace", []))
    return SamplesReport(
        requested=plan.requested, k=plan.k, selector=plan.selector,  # type: ignore[arg-type]
        selected_by=selected_by,  # type: ignore[arg-type]
        selected=chosen["index"] if chosen else None,
        agreement=selection.agreement, agreeing=selection.votes,
        agreement_by_level=selection.by_level, distinct_answers=selection.distinct,
        support=selection.support, image_model_calls=plan.image_model_calls,
        model_calls_per_trajectory=plan.model_calls_each,
        tool_calls_per_trajectory=plan.tool_calls_each,
        tool_cache=drop_cache(plan.samples[0].cache) if plan.samples else {},
        trajectories=[_summary(r, b, index, prelude_calls)
                      for r, b in zip(results, ballots, strict=True)],
        notes=[*plan.notes, *notes])


def select_update(state: Mapping[str, Any], plan: SamplePlan, results: list[dict],
                  verifier=None) -> dict:
    """The parent's update from the trajectories' ``results`` (the node's work, without the
    graph: ``verifier(groups, evidence) -> (Ballot | None, usage, failure)`` when asked)."""
    index = get_region_index()
    prelude_e, prelude_s = state.get("evidence", []), state.get("ocr_spans", [])
    results = sorted(results, key=lambda r: r["index"])
    first = pool(prelude_e, prelude_s, results)
    union = evidence_in({"evidence": first.evidence})
    belief = fuse(union, index)
    ballots = [ballot(r["index"], Answer.model_validate(remap_answer(
        r["answer"], first.evidence_ids[r["index"]])), _voting(r), index) for r in results]
    selection, selected_by, usage, notes = choose(plan, ballots, belief, union, verifier)
    for r in results:
        usage = add_counts(usage, r.get("usage") or {})
    chosen = chosen_result(selection, results)
    order = [chosen] + [r for r in results if r is not chosen] if chosen else results
    final = pool(prelude_e, prelude_s, order)  # the chosen keeps its numbering
    report = trajectories_report(state, plan, results, ballots, (selection, selected_by, chosen), notes)
    return {**committed(chosen, results, final), **found(state, results, final),
            "usage": usage,
            "warnings": [*report.notes, *selection_warnings(results, chosen, selection, index)],
            "budget_exhausted": next((r.get("budget_exhausted") for r in results
                                      if r.get("budget_exhausted")), None),
            "samples": {**report.model_dump(mode="json"), "run": plan.run},
            "trajectories": Overwrite([]),
            "verify_rounds": max([r.get("verify_rounds") or 0 for r in results] or [0])}


def this_runs(state: Mapping[str, Any], plan: SamplePlan) -> list[dict]:
    """The results of this turn's trajectories (a crashed earlier run's are not)."""
    cache = plan.samples[0].cache if plan.samples else None
    return [r for r in state.get("trajectories") or [] if r["sample"]["cache"] == cache]


def timed_select(state: Mapping[str, Any], plan: SamplePlan, verifier=None) -> dict:
    start = time.perf_counter()
    update = select_update(state, plan, this_runs(state, plan), verifier)
    update["timings"]["select"] = round(time.perf_counter() - start, 4)
    return update
