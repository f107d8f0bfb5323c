"""``review``: with the ``review`` setting, the graph stops here before commit (LangGraph
``interrupt()``) and shows a person the proposed prediction; their
:class:`~sinoloc.agent.review.ReviewDecision` (``Command(resume=...)``) approves it, edits it
(verified like any submission), rejects it with a reason (back to the policy) or adds a clue
(new ``user_clue`` evidence, back to the policy). The rules are :mod:`sinoloc.agent.review`.

The node runs again from its start when the graph resumes, so everything before ``interrupt()``
is a pure function of the state. Where it goes next is written to ``review["next"]`` and read by
the graph's router.
"""

from __future__ import annotations

import time

from langchain_core.messages import HumanMessage
from langgraph.types import interrupt

from sinoloc.agent.budgets import turn_base
from sinoloc.agent.nodes.commit import proposed
from sinoloc.agent.nodes.verify import judge
from sinoloc.agent.review import (
    ReviewDecision,
    ReviewRefused,
    ReviewRequest,
    clue_evidence,
    contradiction_warning,
    contradictions,
    edited_answer,
)
from sinoloc.agent.state import GeoState, evidence_id, evidence_in
from sinoloc.prompts import render_prompt
from sinoloc.tools.regions import get_region_index

REVIEWER = "user"  # answered_by for an edit a person made


def review_request(state: GeoState) -> ReviewRequest:
    """What the person is shown: the prediction commit would make now, and why their last
    decision was not taken (if it was not)."""
    _, proposal = proposed(state)
    return ReviewRequest(proposal=proposal, feedback=(state.get("review") or {}).get("feedback", ""))


def review_node(state: GeoState) -> dict:
    request = review_request(state)
    decision = interrupt(request.model_dump(mode="json"), response_schema=ReviewDecision)
    if not isinstance(decision, ReviewDecision):  # a JSON schema client answered with a dict
        decision = ReviewDecision.model_validate(decision)
    try:
        return apply_decision(state, decision)
    except ReviewRefused as exc:
        return {"review": {"next": "review", "feedback": str(exc), "action": decision.action}}


def apply_decision(state: GeoState, decision: ReviewDecision) -> dict:
    """The state update for a decision (raises :class:`ReviewRefused` for one that cannot be
    applied: a place or clue that names nothing, an ambiguous name)."""
    done = {"action": decision.action, "feedback": ""}
    if decision.action == "approve":
        return {"review": {**done, "next": "commit"}}
    index = get_region_index()
    evidence = evidence_in(state)
    if decision.action == "edit":
        answer = edited_answer(decision, evidence, index)
        rounds = state.get("verify_rounds", 0) + 1
        checked, verdict = judge(answer.model_dump(mode="json"), state, rounds)
        if not verdict.accepted or checked is None:
            reasons = "; ".join(f"{c.name}: {c.message}" for c in verdict.checks
                                if not c.passed) or verdict.feedback
            raise ReviewRefused(f"your edit ({decision.place}) did not pass verification: "
                                f"{reasons}")
        return {"answer": checked.model_dump(mode="json"), "answered_by": REVIEWER,
                "verdict": verdict.model_dump(mode="json"), "verify_rounds": rounds,
                "review": {**done, "next": "commit"}}
    again = {"verify_rounds": 0, "verdict": None, "turn_base": turn_base(state),
             "started_at": time.time(), "budget_exhausted": None,
             "review": {**done, "next": "policy"}}
    if decision.action == "reject":
        text = render_prompt("review_reject", reason=(decision.reason or "").strip())
        return {**again, "messages": [HumanMessage(content=text)]}
    clue = clue_evidence(decision.clue or "", index)
    clue = clue.model_copy(update={"id": evidence_id(len(evidence) + 1)})
    against = contradictions(clue, evidence, index)
    text = render_prompt("review_clue", evidence_id=clue.id, clue=clue.text,
                         regions="、".join(r.name for r in clue.regions),
                         contradicts=", ".join(against) or "none does")
    return {**again, "evidence": [clue.model_dump(mode="json")],
            "messages": [HumanMessage(content=text)],
            "warnings": [contradiction_warning(clue, against)] if against else []}


__all__ = ["REVIEWER", "apply_decision", "review_node", "review_request"]
