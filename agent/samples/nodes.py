"""The graph's nodes for ``samples`` > 1, and how they are wired in: after the prelude,
``samples_plan`` plans the trajectories (:mod:`~.plan`), one ``trajectory`` subgraph per
sample runs concurrently (LangGraph ``Send``: one superstep, run in parallel), and
``select`` takes the answer (:mod:`~.select`) before ``review`` (with the ``review`` setting,
as after ``verify``) and ``commit``. With ``samples`` = 1 the prelude goes straight to the
policy, as it always has.

A served graph's nodes here read the thread state through its boundary like the main graph's
(:func:`~sinoloc.agent.boundary.guarded`): the plan, the selector and every node of the
trajectory subgraph that calls a model, runs tools or counts budgets."""

from __future__ import annotations

import time
from functools import partial
from typing import Literal, Optional

from langchain_core.runnables import RunnableConfig
from langgraph.types import Send

from sinoloc.agent.boundary import FORGED_STATE, ClientInputError, ServeBoundary, guarded
from sinoloc.agent.budgets import model_budget
from sinoloc.agent.nodes.policy import chosen_policy
from sinoloc.agent.policies.deterministic import DeterministicPolicy
from sinoloc.agent.samples.plan import SamplePlan, plan_samples, trajectory_input
from sinoloc.agent.samples.sampling import has_temperature
from sinoloc.agent.samples.select import timed_select
from sinoloc.agent.samples.trajectory import Routes, TrajectoryState, build_trajectory
from sinoloc.agent.state import GeoState, request_of

SAMPLES_TIMEOUT_S = 60.0  # the verifier's call, when the policy has no timeout of its own


def route_after_prelude(state: GeoState) -> Literal["policy", "samples_plan"]:
    return "samples_plan" if request_of(state).samples > 1 else "policy"


def route_after_select(state: GeoState) -> Literal["review", "commit"]:
    """As after verify: a person reviews the selected answer when the run asks for it."""
    return "review" if request_of(state).review else "commit"


def honest_plan(state: GeoState, plan: SamplePlan) -> bool:
    """Whether ``plan`` is one ``samples_plan`` could have made for ``state``: no more
    trajectories than the request asks for, and shares of the image's budgets that add up to
    no more than them (a served graph's thread state is written by clients too)."""
    request = request_of(state)
    k = len(plan.samples)
    prelude = len(state.get("tool_trace") or [])
    tools_left = max(request.max_tool_calls - prelude, 0)
    return (1 <= k == plan.k <= request.samples and plan.prelude_tool_calls == prelude
            and plan.model_calls_each * k <= max(model_budget(state, request), k)
            and plan.tool_calls_each * k <= max(tools_left, k)
            and [s.index for s in plan.samples] == list(range(1, k + 1)))


def route_trajectories(state: GeoState, boundary: ServeBoundary | None = None) -> list[Send]:
    """One ``Send`` per planned trajectory (a served graph's state read through its boundary,
    the plan checked against it)."""
    if boundary is not None:
        state = boundary.checked_state(state)  # type: ignore[assignment]
    plan = SamplePlan.model_validate(state["samples_plan"])
    if boundary is not None and not honest_plan(state, plan):
        raise ClientInputError(FORGED_STATE.format(what="its samples plan"))
    return [Send("trajectory", trajectory_input(state, plan, sample)) for sample in plan.samples]


def _policy(state, default, boundary, base_url, config: Optional[RunnableConfig]):  # noqa: UP045
    """The run's policy, chosen as the policy node chooses it."""
    spec = ((config or {}).get("configurable") or {}).get("llm")
    return chosen_policy(state, spec, default, boundary, base_url)


def add_samples(graph, default_policy, policy_node, routes: Routes, boundary=None,
                base_url=None) -> None:
    """Add the sampled path to ``graph`` (the prelude's edge is the caller's:
    :func:`route_after_prelude`). ``policy_node`` is the graph's own, unguarded: the trajectory
    subgraph guards it with ``boundary`` like its other nodes; ``routes`` are the graph's."""

    def samples_plan(state: GeoState, config: Optional[RunnableConfig] = None) -> dict:  # noqa: UP045
        policy = _policy(state, default_policy, boundary, base_url, config)
        plan = plan_samples(state, can_sample=not isinstance(policy, DeterministicPolicy),
                            temperatures=has_temperature(policy))
        return {"samples_plan": plan.model_dump(mode="json")}

    def select(state: GeoState, config: Optional[RunnableConfig] = None) -> dict:  # noqa: UP045
        plan = SamplePlan.model_validate(state["samples_plan"])
        policy = _policy(state, default_policy, boundary, base_url, config)

        def verifier(groups, evidence):
            from sinoloc.agent.samples.verifier import ask_verifier
            from sinoloc.tools.regions import get_region_index

            request = request_of(state)
            left = (state.get("started_at") or time.time()) + request.max_seconds - time.time()
            if left <= 0:
                return None, {}, f"the time budget ({request.max_seconds:g} s) is spent"
            seconds = min(getattr(policy, "timeout_s", SAMPLES_TIMEOUT_S), left)
            return ask_verifier(policy, state, groups, evidence, get_region_index(), seconds)

        can_verify = getattr(policy, "model", None) is not None
        return timed_select(state, plan, verifier if can_verify else None)

    graph.add_node("samples_plan", guarded(samples_plan, boundary))
    graph.add_node("trajectory", build_trajectory(policy_node, routes, boundary),
                   input_schema=TrajectoryState)
    graph.add_node("select", guarded(select, boundary))
    graph.add_conditional_edges("samples_plan", partial(route_trajectories, boundary=boundary),
                                ["trajectory"])
    graph.add_edge("trajectory", "select")
    graph.add_conditional_edges("select", route_after_select)
