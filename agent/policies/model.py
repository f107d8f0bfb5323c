"""A language model in the policy slot: ReAct tool calling with retries and honest fallback.

Each turn sends the system prompt, the conversation (the image on its first human message) and
the tool definitions of the tools that can run in this configuration. Failures are retried as
:data:`~.failures.RETRY_TABLE` says (a rate limit waits for the provider's retry-after); a daily
quota, an unreachable host, an authentication error, a safety block or a refusal ends the model's
part of the run and the graph's policy node hands over to the deterministic policy, recording
why. A reply without a tool call or with a malformed one gets a specific nudge, within the call
budget.

Time is bounded here whatever the SDK does: each call runs on a worker thread and is waited for
at most the per-call timeout (also given to the SDK) or what is left of the run's
``max_seconds``, whichever is less; a call that would cross the run's budget is abandoned
(its thread is a daemon: it ends with the SDK's own timeout or the process) and so is a pause
before a retry that would.
"""

from __future__ import annotations

import contextvars
import logging
import threading
import time
from collections.abc import Callable, Mapping
from functools import partial
from typing import Any

from langchain_core.messages import AIMessage, HumanMessage

from sinoloc.agent.budgets import CHAT, calls_spent, model_budget, model_calls_this_turn
from sinoloc.agent.llm.failures import BackendFailure, FailureKind, classify_error, classify_response
from sinoloc.agent.llm.messages import for_state, model_input
from sinoloc.agent.llm.spec import DEFAULT_TIMEOUT_S
from sinoloc.agent.llm.toolcalls import from_api_args, recover_calls
from sinoloc.agent.llm.usage import usage_of
from sinoloc.agent.policies.deterministic import PolicyTurn
from sinoloc.agent.records.session import ReplayMiss, model_exchange
from sinoloc.agent.settings import LocateRequest
from sinoloc.agent.state import request_of
from sinoloc.agent.toolbox.definitions import offered_tools, tool_definitions
from sinoloc.prompts import load_prompt, render_prompt
from sinoloc.tools.secrets import scrub_message

log = logging.getLogger(__name__)

MAX_NUDGES = 2
pause = time.sleep  # the wait before a retry (looked up at each wait: a test can record it)

GRACE_S = 2.0  # the SDK's own timeout fires first when it honours it; this catches it when not


class _Deadline:
    """When the run's time budget ends (``None``: no budget known)."""

    def __init__(self, state: Mapping[str, Any], request: LocateRequest):
        started = state.get("started_at")
        self.at = started + request.max_seconds if started is not None else None
        self.budget = request.max_seconds

    def left(self) -> float:
        return float("inf") if self.at is None else self.at - time.time()

    def failure(self, what: str) -> BackendFailure:
        return BackendFailure(FailureKind.BUDGET, f"the time budget ({self.budget:g} s) ran out "
                                                  f"{what}")


def call_within(fn: Callable[[], AIMessage], seconds: float) -> AIMessage:
    """``fn()`` on a daemon thread, waited for at most ``seconds``: its reply, its exception, or
    ``TimeoutError`` (the thread is abandoned; it keeps the caller's context, so callbacks and
    LangGraph's message streaming still see the call)."""
    box: dict = {}
    done = threading.Event()
    context = contextvars.copy_context()

    def run() -> None:
        try:
            box["reply"] = context.run(fn)
        except BaseException as exc:  # handed to the caller's thread
            box["error"] = exc
        finally:
            done.set()

    threading.Thread(target=run, name="sinoloc-model-call", daemon=True).start()
    if not done.wait(max(seconds, 0.0)):
        raise TimeoutError(f"no reply within {seconds:.1f} s")
    if "error" in box:
        raise box["error"]
    return box["reply"]


class ChatModelPolicy:
    """Drives the graph with any LangChain chat model that supports ``bind_tools``."""

    def __init__(self, model, name: str, *, timeout_s: float = DEFAULT_TIMEOUT_S,
                 sleep: Callable[[float], None] | None = None, send_image: bool = True):
        self.name = name
        self.model = model
        self._bound: dict[frozenset[str], object] = {}
        self._tools: dict[frozenset[str], list[dict]] = {}
        self.timeout_s = timeout_s
        self.sleep = sleep or (lambda seconds: pause(seconds))
        self.send_image = send_image

    def bound(self, excluded: frozenset[str]):
        """The model with the tools of this run bound (tools switched off, or that cannot run
        in this configuration, are not offered)."""
        if excluded not in self._bound:
            self._tools[excluded] = tool_definitions(excluded)
            self._bound[excluded] = self.model.bind_tools(self._tools[excluded])
        return self._bound[excluded]

    def _invoke(self, messages, turn: PolicyTurn, calls_left: int,
                excluded: frozenset[str], deadline: _Deadline) -> AIMessage:
        """One model call with retries as the retry table says, within the per-call timeout
        and the run's time budget; raises BackendFailure."""
        attempt = 0
        bound = self.bound(excluded)
        while True:
            if calls_left - calls_spent(turn.usage) <= 0:
                raise BackendFailure(FailureKind.API_ERROR, "the model-call budget ran out "
                                     "while retrying")
            left = deadline.left()
            if left <= 0:
                raise deadline.failure("before a model call")
            try:
                reply = model_exchange(  # recorded, or served by a replay (agent/records)
                    self.name, self._tools[excluded], messages,
                    partial(call_within, lambda: bound.invoke(messages),
                            min(self.timeout_s + GRACE_S, left)))
            except ReplayMiss:
                raise  # the record lacks this request: the image stops (or was told to go live)
            except Exception as exc:  # providers raise many types; classify them all
                turn.usage["model_errors"] = turn.usage.get("model_errors", 0) + 1
                if isinstance(exc, TimeoutError) and deadline.left() <= 0:
                    raise deadline.failure("during a model call (the call was abandoned)") \
                        from exc
                failure = classify_error(exc)
                rule = failure.rule
                if attempt >= rule.retries:
                    raise failure from exc
                wait = rule.pause(attempt, failure.retry_after)
                if wait >= deadline.left():
                    raise deadline.failure(f"before a retry after {failure} (a {wait:g} s "
                                           "pause)") from exc
                log.warning("%s: %s; retrying in %.1f s", self.name, failure, wait)
                self.sleep(wait)
                attempt += 1
                continue
            for key, value in usage_of(reply).items():
                turn.usage[key] = turn.usage.get(key, 0) + value
            return recover_calls(reply)

    def __call__(self, state: Mapping[str, Any]) -> PolicyTurn:
        request = request_of(state)
        calls_left = model_budget(state, request) - model_calls_this_turn(state)
        chat = state.get("mode") == CHAT  # a follow-up question: words are an answer
        conversation = model_input(state, with_image=self.send_image)
        excluded = offered_tools(request).excluded
        if not self.send_image:  # map views are images: only for a model that is sent them
            excluded |= {"map_view"}
        deadline = _Deadline(state, request)
        turn = PolicyTurn()
        malformed = False
        try:
            for _ in range(MAX_NUDGES + 1):
                reply = self._invoke(conversation + turn.messages, turn, calls_left, excluded,
                                     deadline)
                failure = classify_response(reply)
                if failure is not None:
                    raise failure
                kept = scrub_message(for_state(from_api_args(reply)))  # no key enters state
                if reply.tool_calls or (chat and not reply.invalid_tool_calls and reply.text):
                    turn.messages.append(kept)
                    return turn
                malformed = bool(reply.invalid_tool_calls)
                if malformed:
                    errors = "\n".join(f"- {c.get('name') or '?'}: {c.get('error')} "
                                       f"(got {str(c.get('args'))[:200]!r})"
                                       for c in reply.invalid_tool_calls)
                    nudge = render_prompt("malformed_call", errors=errors)
                else:
                    nudge = load_prompt("nudge")
                # the reply's words stay (an empty assistant turn, or one holding calls that
                # never ran, is what OpenAI-compatible servers reject); the nudge says the rest
                if kept.text.strip():
                    turn.messages.append(AIMessage(content=kept.text, id=kept.id))
                turn.messages.append(HumanMessage(content=nudge))
            if malformed:
                raise BackendFailure(FailureKind.MALFORMED_CALL, f"tool calls still malformed "
                                     f"after {MAX_NUDGES} reminders")
            raise BackendFailure(FailureKind.NO_TOOL_CALL,
                                 f"no usable tool call after {MAX_NUDGES} reminders")
        except BackendFailure as failure:
            turn.messages = []  # the failed exchange is not kept in the conversation
            turn.failure = failure
            return turn
