"""How ``samples`` = K runs on one image: the plan (how many trajectories, each one's share of
the budgets and its sampling) and the inputs the graph sends them.

The design, in short:

- **What they share.** Every trajectory starts from the same state after the prelude: the image,
  its prior, OCR and clues (evidence E1…En, spans T1…Tm), the locatability and the wall-clock
  start. Tool calls go through one per-image cache (:mod:`~sinoloc.agent.samples.cache`): an
  identical call is made once and its result given to every trajectory that asks.
- **How they differ.** Trajectory 1 is exactly the K = 1 trajectory (the model's own
  temperature, the prelude as it is). Trajectory i > 1 samples at its own temperature
  (:data:`TEMPERATURES`, when the model has a ``temperature`` setting) and reads a prompt variant
  added to the prelude (``prompts/sample_variants.md``: start from the text, from the scene, or
  challenge the first hypothesis), which also names its own view order on a panorama (the
  headings rotated by 90° per trajectory), so the trajectories explore different first moves.
- **Budgets are the image's.** The model-call budget the image has (after the locatability
  scaling) is split evenly among the trajectories (one call reserved for a verifier selector),
  and so are the tool calls left after the prelude; the wall-time budget is shared (they run
  concurrently). K is lowered, with a note, when a share would be under
  :data:`MIN_MODEL_CALLS` calls; never is a budget multiplied.
- **The deterministic policy** has nothing to sample: it runs one trajectory, with a note.

Each trajectory ends in a verified submission or the fused fallback of its own evidence; the
selector (:mod:`sinoloc.agent.samples.select`) takes the answer from them.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from langchain_core.messages import HumanMessage
from pydantic import BaseModel, Field

from sinoloc.agent.budgets import LOCATE, model_budget
from sinoloc.agent.state import request_of
from sinoloc.prompts import load_prompt

MIN_MODEL_CALLS = 2  # a tool call and a submission
MIN_TOOL_CALLS = 1
VERIFIER_CALLS = 1
TEMPERATURES = (None, 1.0, 0.4, 0.85, 0.55, 1.2, 0.7, 0.25)  # trajectory 1: the model's own
VARIANTS = ("direct", "text", "scene", "challenge")
PANORAMA_HEADINGS = (0, 90, 180, 270)


class Sample(BaseModel):
    """How one trajectory samples."""

    index: int  # 1-based
    count: int
    variant: str
    temperature: float | None
    cache: str  # the per-image tool cache it shares with the others


class SamplePlan(BaseModel):
    requested: int
    k: int
    selector: str
    image_model_calls: int
    model_calls_each: int
    tool_calls_each: int
    prelude_tool_calls: int
    samples: list[Sample]
    notes: list[str] = Field(default_factory=list)
    run: float | None = None  # the turn's start (started_at): results of another turn are not its


def plan_samples(state: Mapping[str, Any], can_sample: bool,
                 temperatures: bool = True) -> SamplePlan:
    """The plan for the image in ``state`` (after the prelude). ``can_sample``: the policy is a
    model (the deterministic policy would run K identical trajectories); ``temperatures``: its
    model has a temperature to vary (else the variants alone differ, and the plan says so)."""
    request = request_of(state)
    requested = request.samples
    budget = model_budget(state, request)
    reserve = VERIFIER_CALLS if request.sample_selector == "verifier" else 0
    prelude_calls = len(state.get("tool_trace", []))
    tools_left = max(request.max_tool_calls - prelude_calls, 0)
    notes: list[str] = []
    k = requested
    if not can_sample:
        k = 1
        notes.append(f"samples={requested} asked, but the deterministic policy has nothing to "
                     "sample: one trajectory ran")
    fits = max(1, min((budget - reserve) // MIN_MODEL_CALLS, tools_left // MIN_TOOL_CALLS))
    if k > fits:
        notes.append(f"samples lowered from {k} to {fits}: the image's budgets ({budget} model "
                     f"calls, {tools_left} tool calls after the prelude) allow no more "
                     f"trajectories of at least {MIN_MODEL_CALLS} model calls each")
        k = fits
    if k == 1:
        reserve = 0  # one candidate: nothing for a verifier to choose between
    cache = uuid.uuid4().hex
    samples = [Sample(index=i, count=k, variant=VARIANTS[(i - 1) % len(VARIANTS)],
                      temperature=TEMPERATURES[(i - 1) % len(TEMPERATURES)] if temperatures
                      else None, cache=cache)
               for i in range(1, k + 1)]
    return SamplePlan(requested=requested, k=k, selector=request.sample_selector,
                      image_model_calls=budget, model_calls_each=max(1, (budget - reserve) // k),
                      tool_calls_each=max(1, tools_left // k), prelude_tool_calls=prelude_calls,
                      samples=samples, notes=notes, run=state.get("started_at"))


def _views(sample: Sample, is_panorama: bool) -> str:
    if not is_panorama:
        return "zoom into boxes of the photo where text or landmarks are small"
    turn = (sample.index - 1) % len(PANORAMA_HEADINGS)
    order = PANORAMA_HEADINGS[turn:] + PANORAMA_HEADINGS[:turn]
    return "panorama headings in the order " + ", ".join(f"{h}°" for h in order)


def variant_text(sample: Sample, is_panorama: bool) -> str:
    """The prompt variant a trajectory reads after the prelude ('' for trajectory 1)."""
    if sample.variant == "direct":
        return ""
    sections = load_prompt("sample_variants").split("## ")
    body = next(s for s in sections if s.startswith(sample.variant + "\n"))
    return body.split("\n", 1)[1].strip().format(index=sample.index, count=sample.count,
                                                  views=_views(sample, is_panorama))


TRAJECTORY_KEYS = ("image", "evidence", "ocr_spans", "ignored_text", "poi_queries", "outbound",
                   "tool_trace", "locatability", "started_at", "ingested_request")


def trajectory_input(state: Mapping[str, Any], plan: SamplePlan, sample: Sample) -> dict:
    """The state a trajectory starts from: the prelude's, its own request (its share of the
    budgets), its variant added to the prelude message, and fresh counters."""
    request = request_of(state).model_copy(update={
        "max_model_calls": plan.model_calls_each, "adaptive_budget": False,
        "max_tool_calls": plan.prelude_tool_calls + plan.tool_calls_each})
    messages = list(state.get("messages", []))
    extra = variant_text(sample, bool((state.get("image") or {}).get("is_panorama")))
    if extra:
        last = max(i for i, m in enumerate(messages) if isinstance(m, HumanMessage))
        prelude = messages[last]
        messages[last] = HumanMessage(content=f"{prelude.text}\n\n{extra}", id=prelude.id)
    return {**{key: state[key] for key in TRAJECTORY_KEYS if key in state},
            "request": request.model_dump(mode="json"), "messages": messages,
            "sample": sample.model_dump(mode="json"), "mode": LOCATE, "usage": {},
            "turn_base": {}, "timings": {}, "warnings": [], "verify_rounds": 0,
            "verdict": None, "answer": None, "budget_exhausted": None,
            "backend_fallback": None}
