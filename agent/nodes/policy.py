"""The policy node: asks the policy for its next turn within the request's budgets, and falls
back to the deterministic policy when a model backend fails, so the answer never dies with the
model. Routing happens on the returned messages, never by writing state in a router."""

from __future__ import annotations

import time
from typing import Optional

from langchain_core.messages import AIMessage, AnyMessage
from langchain_core.runnables import RunnableConfig

from sinoloc.agent.boundary import ServeBoundary
from sinoloc.agent.budgets import CHAT, entry, model_budget, model_calls_this_turn, tool_calls_this_turn
from sinoloc.agent.policies import configured_policy
from sinoloc.agent.policies.deterministic import DeterministicPolicy, Policy, PolicyTurn, fused_submission
from sinoloc.agent.samples.sampling import for_sample
from sinoloc.agent.settings import LocateRequest, check_policy
from sinoloc.agent.state import GeoState, request_of
from sinoloc.agent.toolbox.registry import SUBMIT_TOOL

FUSION = "fusion"


def budget_exhausted(state: GeoState, request: LocateRequest, uses_model: bool) -> str | None:
    """Which budget of this turn is spent, if any: model calls, tool calls or wall time."""
    calls = model_budget(state, request)
    if uses_model and model_calls_this_turn(state) >= calls:
        return f"the model-call budget ({calls})"
    if tool_calls_this_turn(state) >= request.max_tool_calls:
        return f"the tool-call budget ({request.max_tool_calls})"
    started = state.get("started_at")
    if started is not None and time.time() - started >= request.max_seconds:
        return f"the time budget ({request.max_seconds:g} s)"
    return None


def _out_of_time(failure: BaseException) -> bool:
    from sinoloc.agent.llm.failures import BackendFailure, FailureKind

    return isinstance(failure, BackendFailure) and failure.kind is FailureKind.BUDGET


def _as_turn(result: AIMessage | PolicyTurn) -> PolicyTurn:
    return result if isinstance(result, PolicyTurn) else PolicyTurn(messages=[result])


def _submits(message: AnyMessage) -> bool:
    return isinstance(message, AIMessage) and any(c["name"] == SUBMIT_TOOL for c in message.tool_calls)


def make_policy_node(default_policy: Policy, boundary: ServeBoundary | None = None):
    """The node; a served graph's ``boundary`` vets its clients' ``configurable["llm"]`` (an
    allow-list of providers) and the image its thread state names (clients can write state)."""
    deterministic = DeterministicPolicy()

    def chosen_policy(state: GeoState, spec) -> Policy:
        if boundary is None:
            return configured_policy(spec) if spec else default_policy
        boundary.check_image_path((state.get("request") or {}).get("image_path"))
        return boundary.policy(spec) if spec is not None else default_policy

    def policy_node(state: GeoState, config: Optional[RunnableConfig] = None) -> dict:  # noqa: UP045
        start = time.perf_counter()
        spec = ((config or {}).get("configurable") or {}).get("llm")
        policy = for_sample(chosen_policy(state, spec), state)  # a trajectory's sampling
        fallback = policy if isinstance(policy, DeterministicPolicy) else deterministic
        uses_model = policy is not fallback
        chat = state.get("mode") == CHAT
        request = request_of(state)
        if uses_model:
            check_policy(policy, request.offline)  # no hosted model in an offline run
        update: dict = {"backend": policy.name, "warnings": [], "usage": {}}
        failed = state.get("backend_fallback")
        exhausted = budget_exhausted(state, request, uses_model and not failed)
        if exhausted and chat:
            note = f"This turn's budget is spent ({exhausted}); ask again to continue."
            messages: list[AnyMessage] = [AIMessage(content=note)]
            update["budget_exhausted"] = exhausted
            by = FUSION
        elif exhausted:
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
            if turn.failure is None and not isinstance(last, AIMessage):
                turn.failure = RuntimeError("the policy returned no message")
            elif turn.failure is None and isinstance(last, AIMessage) \
                    and not (last.tool_calls or chat):
                turn.failure = RuntimeError("the policy returned no tool call")
            if turn.failure is not None and _out_of_time(turn.failure):
                # the model's call was cut at the run's budget: commit now, as the next
                # turn would (the deterministic policy would spend more of a spent budget)
                reason = str(turn.failure)
                update["backend_fallback"] = reason
                update["budget_exhausted"] = f"the time budget ({request.max_seconds:g} s)"
                note = (f"Budget exhausted ({reason}): committing the fusion engine's best "
                        "hypothesis.")
                update["warnings"].append(note)
                messages = [AIMessage(content=note) if chat else fused_submission(state, note)]
                by = FUSION
            elif turn.failure is not None:
                reason = str(turn.failure)
                update["backend_fallback"] = reason
                update["warnings"].append(f"{policy.name} failed ({reason}); the deterministic "
                                          "policy finished the run")
                messages, by = [fallback(state)], FUSION
            else:
                messages, by = turn.messages, policy.name
        update["messages"] = messages
        last = messages[-1]
        if _submits(last):
            update["answered_by"] = by
        elif chat and not (isinstance(last, AIMessage) and last.tool_calls):  # the reply
            update["reply"] = last.text
            update["transcript"] = [entry("reply", last.text)]
        update["timings"] = {f"policy_{len(state.get('tool_trace', []))}_"
                             f"{state.get('verify_rounds', 0)}": round(time.perf_counter() - start, 4)}
        return update

    return policy_node
