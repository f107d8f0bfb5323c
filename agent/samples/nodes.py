"""The graph's nodes for ``samples`` > 1, and how they are wired in: after the prelude,
``samples_plan`` plans the trajectories (:mod:`~.plan`), one ``trajectory`` subgraph per
sample runs concurrently (LangGraph ``Send``: one superstep, run in parallel), and
``select`` takes the answer (:mod:`~.select`) before ``commit``. With ``samples`` = 1 the
prelude goes straight to the policy, as it always has."""

from __future__ import annotations

import time
from typing import Literal, Optional

from langchain_core.runnables import RunnableConfig
from langgraph.types import Send

from sinoloc.agent.policies import configured_policy
from sinoloc.agent.policies.deterministic import DeterministicPolicy
from sinoloc.agent.samples.plan import SamplePlan, plan_samples, trajectory_input
from sinoloc.agent.samples.sampling import has_temperature
from sinoloc.agent.samples.select import timed_select
from sinoloc.agent.samples.trajectory import TrajectoryState, build_trajectory
from sinoloc.agent.state import GeoState, request_of

SAMPLES_TIMEOUT_S = 60.0  # the verifier's call, when the policy has no timeout of its own


def route_after_prelude(state: GeoState) -> Literal["policy", "samples_plan"]:
    return "samples_plan" if request_of(state).samples > 1 else "policy"


def route_trajectories(state: GeoState) -> list[Send]:
    plan = SamplePlan.model_validate(state["samples_plan"])
    return [Send("trajectory", trajectory_input(state, plan, sample)) for sample in plan.samples]


def _policy(default, boundary, config: Optional[RunnableConfig]):  # noqa: UP045
    spec = ((config or {}).get("configurable") or {}).get("llm")
    if spec is None:
        return default
    return boundary.policy(spec) if boundary is not None else configured_policy(spec)


def add_samples(graph, default_policy, policy_node, boundary=None) -> None:
    """Add the sampled path to ``graph`` (the prelude's edge is the caller's:
    :func:`route_after_prelude`)."""

    def samples_plan(state: GeoState, config: Optional[RunnableConfig] = None) -> dict:  # noqa: UP045
        policy = _policy(default_policy, boundary, config)
        plan = plan_samples(state, can_sample=not isinstance(policy, DeterministicPolicy),
                            temperatures=has_temperature(policy))
        return {"samples_plan": plan.model_dump(mode="json")}

    def select(state: GeoState, config: Optional[RunnableConfig] = None) -> dict:  # noqa: UP045
        plan = SamplePlan.model_validate(state["samples_plan"])
        policy = _policy(default_policy, boundary, config)

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

    graph.add_node("samples_plan", samples_plan)
    graph.add_node("trajectory", build_trajectory(policy_node), input_schema=TrajectoryState)
    graph.add_node("select", select)
    graph.add_conditional_edges("samples_plan", route_trajectories, ["trajectory"])
    graph.add_edge("trajectory", "select")
    graph.add_edge("select", "commit")
