"""The optional verifier selector (``sample_selector="verifier"``): one model call that reads
the image, every distinct candidate answer with the evidence it cites, and the pooled evidence,
and picks one through a ``choose_answer`` call (as the Thinking-with-Map verifier does). It
spends the call the plan reserved for it; any failure leaves the choice to the evidence."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from langchain_core.messages import HumanMessage, SystemMessage
from pydantic import BaseModel, Field

from sinoloc.agent.llm.usage import usage_of
from sinoloc.agent.reasoning.digest import evidence_digest
from sinoloc.agent.reasoning.selector import Ballot, label
from sinoloc.prompts import load_prompt, render_prompt
from sinoloc.tools.evidence import Evidence
from sinoloc.tools.regions import RegionIndex

CHOOSE_TOOL = "choose_answer"


class ChooseArgs(BaseModel):
    candidate: int = Field(ge=1, description="the number of the candidate the evidence "
                           "supports best")
    reasoning: str = Field(default="", description="why, citing evidence ids")


def _definition() -> dict:
    from sinoloc.agent.toolbox.definitions import api_schema

    return {"type": "function", "function": {
        "name": CHOOSE_TOOL, "description": "Pick the candidate answer the evidence supports best.",
        "parameters": api_schema(ChooseArgs.model_json_schema())}}


def candidates_text(groups: list[list[Ballot]], evidence: list[Evidence],
                    index: RegionIndex) -> str:
    by_id = {e.id: e for e in evidence}
    lines = []
    for number, members in enumerate(groups, start=1):
        answer = members[0].answer
        cited = list(dict.fromkeys(answer.province_evidence + answer.city_evidence
                                   + answer.district_evidence))
        lines.append(f"{number}. {label(members[0], index)} ({answer.lat:.5f}, {answer.lon:.5f})"
                     f" — given by {len(members)} attempt(s); reasoning: {answer.reasoning[:300]}")
        lines += [f"   - {i} {by_id[i].kind.value}: «{by_id[i].text}» {by_id[i].detail}"
                  for i in cited if i in by_id]
    return "\n".join(lines)


def ask_verifier(policy, state: Mapping[str, Any], groups: list[list[Ballot]],
                 evidence: list[Evidence], index: RegionIndex,
                 seconds: float) -> tuple[Ballot | None, dict[str, int], str | None]:
    """The chosen group's first ballot (None on any failure), the usage, and why it failed."""
    from sinoloc.agent.llm.messages import image_block
    from sinoloc.agent.policies.model import call_within
    from sinoloc.agent.records.session import ReplayMiss, model_exchange

    usage: dict[str, int] = {}
    text = render_prompt("select_answer", candidates=candidates_text(groups, evidence, index),
                         evidence=evidence_digest(evidence))
    content: list[str | dict] = [{"type": "text", "text": text}]
    if getattr(policy, "send_image", True):
        image = state.get("image") or {}
        content.append(image_block(state["request"]["image_path"], image.get("sha256", "")))
    messages = [SystemMessage(content=load_prompt("system")), HumanMessage(content=content)]
    tools = [_definition()]
    bound = policy.model.bind_tools(tools)
    try:  # recorded, or served by a replay (agent/records), like the policy's calls
        reply = model_exchange(policy.name, tools, messages,
                               lambda: call_within(lambda: bound.invoke(messages), seconds))
    except ReplayMiss:
        raise  # the record lacks this call: the image stops (or was told to go live)
    except Exception as exc:  # a failed verifier leaves the choice to the evidence
        usage["model_errors"] = 1
        return None, usage, f"{exc.__class__.__name__}: {exc}"
    usage.update(usage_of(reply))
    call = next((c for c in reply.tool_calls if c["name"] == CHOOSE_TOOL), None)
    if call is None:
        return None, usage, "the verifier made no choose_answer call"
    try:
        args = ChooseArgs.model_validate(call.get("args") or {})
    except ValueError as exc:
        return None, usage, f"bad choose_answer arguments: {exc}"
    if args.candidate > len(groups):
        return None, usage, f"candidate {args.candidate} does not exist"
    return groups[args.candidate - 1][0], usage, None
