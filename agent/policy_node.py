"""The policy node: asks the policy for its next turn within the request's budgets, and falls
back to the deterministic policy when a model backend fails, so the answer never dies with the
model. Routing happens on the returned messages, never by writing state in a router."""

from __future__ import annotations

import time

from langchain_core.messages import AIMessage

from .llm.usage import calls_spent
from .policy import DeterministicPolicy, Policy, PolicyTurn, fused_submission
from .schemas import LocateRequest
from .state import GeoState
from .toolbox import SUBMIT_TOOL

FUSION = "fusion"


def budget_exhausted(state: GeoState, request: LocateRequest, uses_model: bool) -> str | None:
    """Which budget is spent, if any: model calls, tool calls or wall time."""
    if uses_model and calls_spent(state.get("usage", {})) >= request.max_model_calls:
        return f"the model-call budget ({request.max_model_calls})"
    if len(state.get("tool_trace", [])) >= request.max_tool_calls:
        return f"the tool-call budget ({request.max_tool_calls})"
    started = state.get("started_at")
    if started is not None and time.time() - started >= request.max_seconds:
        return f"the time budget ({request.max_seconds:g} s)"
    return None


def _as_turn(result: AIMessage | PolicyTurn) -> PolicyTurn:
    return result if isinstance(result, PolicyTurn) else PolicyTurn(messages=[result])


def _submits(message: AIMessage) -> bool:
    return any(c["name"] == SUBMIT_TOOL for c in message.tool_calls)


def make_policy_node(policy: Policy):
    fallback = policy if isinstance(policy, DeterministicPolicy) else DeterministicPolicy()
    uses_model = policy is not fallback

    def policy_node(state: GeoState) -> dict:
        start = time.perf_counter()
        request = LocateRequest.model_validate(state["request"])
        update: dict = {"backend": policy.name, "warnings": [], "usage": {}}
        failed = state.get("backend_fallback")
        exhausted = budget_exhausted(state, request, uses_model and not failed)
        if exhausted:
            note = f"Budget exhausted ({exhausted}): committing the fusion engine's best hypothesis."
            messages = [fused_submission(state, note)]
            if not state.get("budget_exhausted"):
                update["budget_exhausted"] = exhausted
                update["warnings"].append(note)
            by = FUSION
        elif failed or not uses_model:
            messages, by = [fallback(state)], FUSION
        else:
            turn = _as_turn(policy(state))
            update["usage"] = turn.usage
            last = turn.messages[-1] if turn.messages else None
            if turn.failure is None and not (isinstance(last, AIMessage) and last.tool_calls):
                turn.failure = RuntimeError("the policy returned no tool call")
            if turn.failure is not None:
                reason = str(turn.failure)
                update["backend_fallback"] = reason
                update["warnings"].append(f"{policy.name} failed ({reason}); the deterministic "
                                          "policy finished the run")
                messages, by = [fallback(state)], FUSION
            else:
                messages, by = turn.messages, policy.name
        update["messages"] = messages
        if _submits(messages[-1]):
            update["answered_by"] = by
        update["timings"] = {f"policy_{len(state.get('tool_trace', []))}_"
                             f"{state.get('verify_rounds', 0)}": round(time.perf_counter() - start, 4)}
        return update

    return policy_node
