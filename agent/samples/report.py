"""What a prediction says about its trajectories when ``samples`` > 1: how many ran, how they
agreed, which one was taken and why, and what each cost."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class TrajectorySummary(BaseModel):
    """One trajectory: how it was sampled, what it answered and what it spent."""

    index: int = Field(description="1-based; trajectory 1 is the K = 1 trajectory")
    variant: str = Field(description="the prompt variant (prompts/sample_variants.md)")
    temperature: float | None = Field(description="None: the model's own setting")
    answer: str | None = Field(description="province, city and district it ended on")
    answered_by: str = Field(description="the model, or fusion (a fallback: it has no vote)")
    verified: bool
    voted: bool = Field(description="a verified answer of the model's own: it counts in the "
                        "agreement")
    model_calls: int = 0
    model_errors: int = 0
    tool_calls: int = Field(default=0, description="calls it made, cached ones included")
    failure: str | None = Field(default=None, description="why its model stopped, if it did")


class SamplesReport(BaseModel):
    """The trajectories of one image and how the answer was selected from them."""

    requested: int = Field(description="samples asked for")
    k: int = Field(description="trajectories run (fewer than asked when the budget or the "
                   "policy allows fewer; the notes say why)")
    selector: Literal["evidence", "verifier"]
    selected_by: Literal["evidence", "verifier", "fusion"] = Field(description=(
        "evidence: best supported by the pooled evidence; verifier: a model read every "
        "candidate; fusion: no trajectory's own answer passed, the pooled belief decided"))
    selected: int | None = Field(description="the trajectory whose answer was committed")
    agreement: float = Field(description=(
        "share of the k trajectories whose verified answer names the committed region at its "
        "finest level (a confidence signal; eval reports calibrate it)"))
    agreeing: int
    agreement_by_level: dict[str, float] = Field(default_factory=dict)
    distinct_answers: int = Field(description="different verified answers among trajectories")
    support: dict[str, float] = Field(default_factory=dict, description=(
        "each distinct answer's support under the pooled belief"))
    image_model_calls: int = Field(description="the image's model-call budget, shared")
    model_calls_per_trajectory: int
    tool_calls_per_trajectory: int
    tool_cache: dict[str, int] = Field(default_factory=dict, description=(
        "tool calls the trajectories asked for, and how many an identical earlier call "
        "answered (made once)"))
    trajectories: list[TrajectorySummary] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)
