"""A language model in the policy slot: ReAct tool calling with retries and honest fallback.

Each turn sends the system prompt, the conversation (the image on its first human message) and
the tool definitions. A rate limit waits for the provider's retry-after and tries again; a
daily quota, an authentication error, a safety block or a refusal ends the model's part of the
run and the graph's policy node hands over to the deterministic policy, recording why. A reply
without a tool call or with a malformed one gets a specific nudge, within the call budget.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from langchain_core.messages import AIMessage, HumanMessage

from ...prompts import load_prompt, render_prompt
from ...tools.secrets import scrub_message
from ..policy import PolicyTurn
from ..schemas import LocateRequest
from ..toolbox import tool_definitions
from ..turns import CHAT, model_budget, model_calls_this_turn
from .failures import BackendFailure, FailureKind, classify_error, classify_response
from .messages import for_state, model_input
from .usage import calls_spent, usage_of

log = logging.getLogger(__name__)

MAX_NUDGES = 2
BACKOFF_S = (2.0, 8.0, 30.0)


class ChatModelPolicy:
    """Drives the graph with any LangChain chat model that supports ``bind_tools``."""

    def __init__(self, model, name: str, *, retries: int = 2,
                 sleep: Callable[[float], None] = time.sleep, send_image: bool = True):
        self.name = name
        self.model = model
        self._bound = {frozenset(): model.bind_tools(tool_definitions())}
        self.retries = retries
        self.sleep = sleep
        self.send_image = send_image

    def bound(self, disabled: list[str]):
        """The model with the tools of this run bound (switched-off tools are not offered)."""
        key = frozenset(disabled)
        if key not in self._bound:
            self._bound[key] = self.model.bind_tools(tool_definitions(key))
        return self._bound[key]

    def _invoke(self, messages, turn: PolicyTurn, calls_left: int,
                disabled: list[str]) -> AIMessage:
        """One model call with retries on transient errors; raises BackendFailure."""
        attempt = 0
        while True:
            if calls_left - calls_spent(turn.usage) <= 0:
                raise BackendFailure(FailureKind.API_ERROR, "the model-call budget ran out "
                                     "while retrying")
            try:
                reply = self.bound(disabled).invoke(messages)
            except Exception as exc:  # providers raise many types; classify them all
                failure = classify_error(exc)
                turn.usage["model_errors"] = turn.usage.get("model_errors", 0) + 1
                if not failure.retryable or attempt >= self.retries:
                    raise failure from exc
                wait = failure.retry_after if failure.retry_after is not None \
                    else BACKOFF_S[min(attempt, len(BACKOFF_S) - 1)]
                log.warning("%s: %s; retrying in %.1f s", self.name, failure, wait)
                self.sleep(wait)
                attempt += 1
                continue
            for key, value in usage_of(reply).items():
                turn.usage[key] = turn.usage.get(key, 0) + value
            return reply

    def __call__(self, state: dict) -> PolicyTurn:
        request = LocateRequest.model_validate(state["request"])
        calls_left = model_budget(state, request) - model_calls_this_turn(state)
        chat = state.get("mode") == CHAT  # a follow-up question: words are an answer
        conversation = model_input(state, with_image=self.send_image)
        turn = PolicyTurn()
        try:
            for _ in range(MAX_NUDGES + 1):
                reply = self._invoke(conversation + turn.messages, turn, calls_left,
                                     request.disabled_tools)
                failure = classify_response(reply)
                if failure is not None:
                    raise failure
                kept = scrub_message(for_state(reply, self.name))  # no key enters state
                if reply.tool_calls or (chat and not reply.invalid_tool_calls and reply.text):
                    turn.messages.append(kept)
                    return turn
                if reply.invalid_tool_calls:
                    errors = "\n".join(f"- {c.get('name') or '?'}: {c.get('error')} "
                                       f"(got {str(c.get('args'))[:200]!r})"
                                       for c in reply.invalid_tool_calls)
                    nudge = render_prompt("malformed_call", errors=errors)
                else:
                    nudge = load_prompt("nudge")
                turn.messages += [kept, HumanMessage(content=nudge)]
            raise BackendFailure(FailureKind.NO_TOOL_CALL,
                                 f"no usable tool call after {MAX_NUDGES} reminders")
        except BackendFailure as failure:
            turn.messages = []  # the failed exchange is not kept in the conversation
            turn.failure = failure
            return turn
