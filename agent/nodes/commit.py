"""``commit``: the accepted answer becomes the :class:`GeoPrediction`; when no submitted answer
passed verification, the fusion engine's answer from the evidence is committed instead."""

from __future__ import annotations

import time

from sinoloc.agent.budgets import CHAT, entry
from sinoloc.agent.nodes.timing import timed
from sinoloc.agent.output.render import headline
from sinoloc.agent.reasoning.answering import fused_answer
from sinoloc.agent.reasoning.prediction import build_prediction
from sinoloc.agent.schemas import GeoPrediction
from sinoloc.agent.state import FUSION, GeoState, evidence_in
from sinoloc.tools.regions import get_region_index

NEVER_PASSED = ("the submitted answer never passed verification: committed the fusion engine's "
                "answer from the evidence instead")


def proposed(state: GeoState, start: float | None = None) -> tuple[dict, GeoPrediction]:
    """What commit would commit now: the state's update (the fused answer when no submitted
    one passed) and the prediction. Human review shows it before commit."""
    start = time.perf_counter() if start is None else start
    verdict = state.get("verdict") or {}
    update: dict = {}
    model_answer_rejected = state.get("answered_by") != FUSION or state.get("answer") is None
    if not verdict.get("accepted") and model_answer_rejected:
        fused, _, _ = fused_answer(evidence_in(state), get_region_index())
        update = {"answer": fused.model_dump(mode="json"), "answered_by": FUSION,
                  "warnings": [NEVER_PASSED]}
    merged = {**state, **update, "warnings": [*state.get("warnings", []),
                                              *update.get("warnings", [])]}
    merged["timings"] = {**state.get("timings", {}), **timed("commit", start)["timings"]}
    return update, build_prediction(merged, get_region_index())


def commit(state: GeoState) -> dict:
    """The node: the prediction, its line in the transcript, and the reply in a chat turn."""
    start = time.perf_counter()
    _, prediction = proposed(state, start)
    update = {"prediction": prediction.model_dump(mode="json"), **timed("commit", start),
              "transcript": [entry("answer", headline(prediction))]}
    if state.get("mode") == CHAT:
        update["reply"] = f"Revised answer: {headline(prediction)}. {prediction.reasoning}"
    return update
