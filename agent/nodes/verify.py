"""``verify``: the submitted answer is checked against the evidence (the checks are in
:mod:`sinoloc.agent.reasoning.verify`) and accepted, or sent back to the policy with reasons."""

from __future__ import annotations

import time

from langchain_core.messages import ToolCall, ToolMessage
from pydantic import ValidationError

from sinoloc.agent.nodes.timing import timed
from sinoloc.agent.reasoning.verify import verify
from sinoloc.agent.records.session import verify_checkpoint
from sinoloc.agent.schemas import Answer, Verdict
from sinoloc.agent.state import GeoState, evidence_in, last_ai_message, request_of
from sinoloc.agent.toolbox.registry import SUBMIT_TOOL
from sinoloc.tools.regions import get_region_index

SWITCHED_OFF = "verification is switched off for this run"


def submitted_call(state: GeoState) -> ToolCall:
    """The ``submit_answer`` call of the policy's last message."""
    return next(c for c in last_ai_message(state).tool_calls if c["name"] == SUBMIT_TOOL)


def judge(args: dict, state: GeoState, rounds: int) -> tuple[Answer | None, Verdict]:
    """The answer in ``args`` and its verdict (invalid arguments are a rejection)."""
    request = request_of(state)
    try:
        answer = Answer.model_validate(args or {})
    except ValidationError as exc:
        return None, Verdict(accepted=False, checks=[], round=rounds,
                             feedback=f"submit_answer arguments are invalid: "
                                      f"{exc.errors(include_url=False)}")
    if not request.verify:
        return answer, Verdict(accepted=True, checks=[], round=rounds, feedback=SWITCHED_OFF)
    return answer, verify(answer, evidence_in(state), get_region_index(), rounds,
                          request.max_verify_rounds)


def verify_node(state: GeoState) -> dict:
    """The node: the verdict, the round count, and the tool message the policy reads."""
    start = time.perf_counter()
    call = submitted_call(state)
    rounds = state.get("verify_rounds", 0) + 1
    answer, verdict = judge(call.get("args") or {}, state, rounds)
    verify_checkpoint(verdict.model_dump(mode="json"))  # compared by a replay (agent/records)
    reply = "accepted" if verdict.accepted else verdict.feedback
    update = {"verdict": verdict.model_dump(mode="json"), "verify_rounds": rounds,
              "messages": [ToolMessage(content=reply, tool_call_id=call["id"], name=SUBMIT_TOOL,
                                       status="success" if verdict.accepted else "error")],
              **timed(f"verify_{rounds}", start)}
    if answer is not None:
        update["answer"] = answer.model_dump(mode="json")
    return update
