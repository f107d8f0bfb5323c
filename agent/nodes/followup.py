"""``followup``: a question about the current image. It is shown to the policy, which answers in
words, calls tools again, or submits a revised answer (verified like the first)."""

from __future__ import annotations

import time

from langchain_core.messages import HumanMessage

from sinoloc.agent.budgets import CHAT, entry, turn_base, unanswered_calls
from sinoloc.agent.state import GeoState
from sinoloc.prompts import render_prompt

NO_IMAGE_YET = ("There is no image in this conversation yet: send one first "
                "(sinoloc chat IMAGE, /image PATH, or a request with image_path).")


def followup(state: GeoState) -> dict:
    """The node: the question becomes the policy's next human turn, with budgets counted
    afresh for this turn."""
    question = (state.get("question") or "").strip()
    update: dict = {"question": None, "reply": None,
                    "transcript": [entry("question", question)]}
    if not state.get("image"):
        return {**update, "reply": NO_IMAGE_YET,
                "transcript": [*update["transcript"], entry("reply", NO_IMAGE_YET)]}
    messages = [*unanswered_calls(state.get("messages", [])),
                HumanMessage(content=render_prompt("followup", question=question))]
    return {**update, "messages": messages, "mode": CHAT, "verify_rounds": 0, "verdict": None,
            "turn_base": turn_base(state), "started_at": time.time(), "budget_exhausted": None}
