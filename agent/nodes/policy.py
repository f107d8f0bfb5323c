"""The policy node: asks the policy for its next turn within the request's budgets, and falls
back to the deterministic policy when a model backend fails, so the answer never dies with the
model. Routing happens on the returned messages, never by writing state in a router.

One small function per case: the turn's budget is spent (:func:`spent_turn`), the
deterministic policy's turn, a model's turn (:func:`model_turn`, with :func:`turn_failure` and
:func:`failed_turn` when it fails); :func:`finish` records who answered. The budget rules
themselves are :mod:`sinoloc.agent.budgets`'."""

from __future__ import annotations

import time
from typing import Optional

from langchain_core.messages import AIMessage, AnyMessage
from langchain_core.runnables import RunnableConfig

from sinoloc.agent.boundary import ServeBoundary
from sinoloc.agent.budgets import CHAT, budget_exhausted, entry, out_of_time, time_budget
from sinoloc.agent.nodes.timing import timed
from sinoloc.agent.policies import configured_policy
from sinoloc.agent.policies.deterministic import DeterministicPolicy, Policy, PolicyTurn, fused_submission
from sinoloc.agent.samples.sampling import for_sample
from sinoloc.agent.settings import LocateRequest, check_policy
from sinoloc.agent.state import FUSION, GeoState, request_of
from sinoloc.agent.toolbox.registry import SUBMIT_TOOL

DETERMINISTIC = DeterministicPolicy()  # the fallback of every model policy (it holds no state)


def _as_turn(result: AIMessage | PolicyTurn) -> PolicyTurn:
    return result if isinstance(result, PolicyTurn) else PolicyTurn(messages=[result])


def _submits(message: AnyMessage) -> bool:
    return isinstance(message, AIMessage) and any(c["name"] == SUBMIT_TOOL for c in message.tool_calls)


def uses_model(policy: Policy) -> bool:
    return not isinstance(policy, DeterministicPolicy)


def chosen_policy(state: GeoState, spec, default_policy: Policy, boundary: ServeBoundary | None,
                  base_url: str | None) -> Policy:
    """The run's policy: its ``configurable["llm"]`` (a served graph's boundary decides which
    model a client may pick; its thread state was checked before this node ran: agent/graph.py,
    ``guarded``) or the graph's."""
    if boundary is None:
        return configured_policy(spec, base_url) if spec else default_policy
    return (boundary.policy(spec) if spec is not None else None) or default_policy


def spent_turn(state: GeoState, exhausted: str, chat: bool) -> dict:
    """A spent budget: a chat turn says so; a locate run commits the fusion engine's answer."""
    if chat:
        note = f"This turn's budget is spent ({exhausted}); ask again to continue."
        return {"messages": [AIMessage(content=note)], "budget_exhausted": exhausted, "by": FUSION}
    note = f"Budget exhausted ({exhausted}): committing the fusion engine's best hypothesis."
    out: dict = {"messages": [fused_submission(state, note)], "by": FUSION}
    if not state.get("budget_exhausted"):
        out |= {"budget_exhausted": exhausted, "warnings": [note]}
    return out


def turn_failure(turn: PolicyTurn, chat: bool) -> BaseException | None:
    """Why a model's turn cannot be used: its own failure, no message, or (outside chat) a
    message without a tool call."""
    if turn.failure is not None:
        return turn.failure
    last = turn.messages[-1] if turn.messages else None
    if not isinstance(last, AIMessage):
        return RuntimeError("the policy returned no message")
    if not (last.tool_calls or chat):
        return RuntimeError("the policy returned no tool call")
    return None


def failed_turn(state: GeoState, policy: Policy, failure: BaseException, request: LocateRequest,
                chat: bool) -> dict:
    """A model's failed turn. Cut at the run's time budget: commit now, as the next turn would
    (the deterministic policy would spend more of a spent budget); otherwise the deterministic
    policy takes over the run."""
    reason = str(failure)
    if out_of_time(failure):
        note = f"Budget exhausted ({reason}): committing the fusion engine's best hypothesis."
        return {"backend_fallback": reason, "budget_exhausted": time_budget(request),
                "warnings": [note], "by": FUSION,
                "messages": [AIMessage(content=note) if chat else fused_submission(state, note)]}
    return {"backend_fallback": reason, "by": FUSION, "messages": [DETERMINISTIC(state)],
            "warnings": [f"{policy.name} failed ({reason}); the deterministic policy finished the run"]}


def model_turn(state: GeoState, policy: Policy, request: LocateRequest, chat: bool) -> dict:
    """One turn of a model policy, its usage recorded whether or not it can be used."""
    turn = _as_turn(policy(state))
    failure = turn_failure(turn, chat)
    if failure is not None:
        return {"usage": turn.usage, **failed_turn(state, policy, failure, request, chat)}
    return {"usage": turn.usage, "messages": turn.messages, "by": policy.name}


def next_turn(state: GeoState, policy: Policy) -> dict:
    """The turn's messages (and what they change) from whichever case applies."""
    request = request_of(state)
    chat = state.get("mode") == CHAT
    model = uses_model(policy)
    if model:
        check_policy(policy, request.offline)  # no hosted model in an offline run
    failed = state.get("backend_fallback")
    update: dict = {"backend": policy.name, "warnings": [], "usage": {}}
    exhausted = budget_exhausted(state, request, model and not failed)
    if exhausted:
        return update | spent_turn(state, exhausted, chat)
    if failed or not model:
        fallback = policy if not model else DETERMINISTIC
        return update | {"messages": [fallback(state)], "by": FUSION}
    return update | model_turn(state, policy, request, chat)


def finish(state: GeoState, update: dict, start: float) -> dict:
    """Who answered (a submission) or the reply (a chat turn's words), and the node's time."""
    by = update.pop("by")
    last = update["messages"][-1]
    if _submits(last):
        update["answered_by"] = by
    elif state.get("mode") == CHAT and not (isinstance(last, AIMessage) and last.tool_calls):
        update["reply"] = last.text
        update["transcript"] = [entry("reply", last.text)]
    return update | timed(f"policy_{len(state.get('tool_trace', []))}_{state.get('verify_rounds', 0)}",
                          start)


def make_policy_node(default_policy: Policy, boundary: ServeBoundary | None = None,
                     base_url: str | None = None):
    """The node; a served graph's ``boundary`` decides which model a client's
    ``configurable["llm"]`` may pick (the operator's or an allowed one); ``base_url`` serves the
    models an in-process run's ``configurable["llm"]`` names."""

    def policy_node(state: GeoState, config: Optional[RunnableConfig] = None) -> dict:  # noqa: UP045
        start = time.perf_counter()
        spec = ((config or {}).get("configurable") or {}).get("llm")
        policy = for_sample(chosen_policy(state, spec, default_policy, boundary, base_url),
                            state)  # a trajectory's sampling (outside a sampled run: itself)
        return finish(state, next_turn(state, policy), start)

    return policy_node
