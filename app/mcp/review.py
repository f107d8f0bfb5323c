"""Human review over MCP: ``locate_image`` with ``settings.review`` stops before commit and asks
the person through the client (MCP *elicitation*: a message and a form of primitive fields),
then resumes the graph with their decision (:class:`~sinoloc.agent.review.ReviewDecision`:
approve, edit a place, reject with a reason, add a clue), as ``sinoloc chat`` ``/review on``
and the web app's review panel do.

- The message shows the proposed answer, its best candidates and evidence, and why the last
  decision was not taken (an edit the verifier refused, a clue that names no place).
- A form that does not make a decision (``edit`` without a place) is asked again with the reason.
- The person may decline or cancel: nothing is committed and the call ends with one line.
- A client that cannot elicit is told so before anything runs (it asked for a review that
  nobody could answer).

Two ways the form travels, by the session's protocol: a session opened with the initialize
handshake has a back-channel, and the form is a server request (``ctx.elicit``) answered within
the call; a 2026-07-28 session has none, so the call *returns* the form
(``InputRequiredResult``, :func:`input_required`) with the paused run's thread id as its
``request_state``, and the client retries the call with the person's answer
(:func:`answered_decision`); the SDK's client does this by itself with its elicitation
callback. Paused runs are bounded (app/mcp/pending.py): a limited number at once, each waiting a
limited time.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError

from sinoloc.agent.output.render import GUESS_MARK, confidence_text, headline, pct, place_label
from sinoloc.agent.review import MAX_CLUE_CHARS, ReviewDecision, ReviewRequest
from sinoloc.app.mcp.pending import REVIEW_WAIT_S

MAX_ROUNDS = 8  # reviews in one call (each reject or clue makes the policy answer again)
MAX_FORMS = 3  # forms in a row that make no decision before the call gives up
SHOWN_EVIDENCE = 8
NO_ELICITATION = ("review: this MCP client cannot ask its user (it declares no elicitation "
                  "capability); call locate_image without review")


class ReviewForm(BaseModel):
    """The form the person answers (MCP elicitation allows primitive fields only)."""

    action: Literal["approve", "edit", "reject", "clue"] = Field(description=(
        "approve the answer, edit it (give place), reject it (give reason) or add a clue"))
    place: str = Field(default="", max_length=200, description=(
        "edit: the right place, e.g. 江苏省苏州市姑苏区 or an adcode"))
    reason: str = Field(default="", max_length=MAX_CLUE_CHARS, description=(
        "reject: why the answer is wrong"))
    clue: str = Field(default="", max_length=MAX_CLUE_CHARS, description=(
        "clue: what you know, naming a place, a plate prefix or a phone number"))

    def decision(self) -> ReviewDecision:
        """The decision this form makes; raises ValidationError when it makes none."""
        return ReviewDecision(action=self.action, place=self.place.strip() or None,
                              reason=self.reason.strip() or None, clue=self.clue.strip() or None)


class NoBackChannel(Exception):
    """The session cannot send the form now (the 2026 protocol's stateless calls)."""


class ReviewStopped(Exception):
    """The review ended without a decision: the message is the call's one-line error."""


def review_message(request: ReviewRequest, problem: str = "") -> str:
    """What the person reads above the form."""
    p = request.proposal
    mark = f"{GUESS_MARK}: " if p.basis == "prior_only" else ""
    lines = [f"sinoloc proposes: {mark}{headline(p)}; confidence {confidence_text(p)}."]
    why = problem or request.feedback
    if why:
        lines.append(f"Your last answer was not taken: {why}")
    if p.candidates:
        lines.append("Candidates: " + "; ".join(
            f"{place_label(c.province, c.city, c.district)} {pct(c.probability)}"
            for c in p.candidates[:3]))
    lines += [f"{e.id} {e.kind.value}: {e.text} ({e.detail or e.source})"
              for e in p.evidence[:SHOWN_EVIDENCE]]
    lines += [f"warning: {w}" for w in p.warnings[:3]]
    lines.append("Approve it, edit it (the right place), reject it (why) or add a clue.")
    return "\n".join(lines)


def _first_error(exc: ValidationError) -> str:
    error = exc.errors()[0]
    return str(error.get("msg", exc)).removeprefix("Value error, ")


Elicit = Callable[[str, type[ReviewForm]], Awaitable[Any]]


async def ask(elicit: Elicit, request: ReviewRequest) -> ReviewDecision:
    """The person's decision on ``request``; raises :class:`ReviewStopped` when they decline or
    cancel, or give no usable decision :data:`MAX_FORMS` times in a row."""
    problem = ""
    for _ in range(MAX_FORMS):
        try:
            result = await _elicit(elicit, review_message(request, problem))
        except ValueError as exc:  # the SDK refuses content that does not fit the form
            problem = str(exc).splitlines()[0][:200] if str(exc) else "the form did not validate"
            continue
        if result.action != "accept" or result.data is None:
            raise ReviewStopped(_stopped(result.action))
        try:
            return result.data.decision()
        except ValidationError as exc:
            problem = _first_error(exc)
    raise ReviewStopped(f"review: {MAX_FORMS} forms without a usable decision ({problem}); "
                        "nothing was committed")


async def _elicit(elicit: Elicit, message: str):
    """One form over the back-channel, answered within :data:`REVIEW_WAIT_S`."""
    import asyncio

    from mcp.shared.exceptions import NoBackChannelError

    try:
        return await asyncio.wait_for(elicit(message, ReviewForm), REVIEW_WAIT_S)
    except NoBackChannelError as exc:  # the 2026 protocol: the form goes in the result
        raise NoBackChannel from exc
    except TimeoutError as exc:
        raise ReviewStopped(f"review: no answer in {REVIEW_WAIT_S / 60:g} minutes; nothing was "
                            "committed") from exc


class NeedsInput(Exception):
    """A review to put to the person by the 2026 protocol's multi-round tool call: the tool
    returns :func:`input_required` and the client retries with their answer and ``state``."""

    def __init__(self, state: str, request: dict, problem: str = ""):
        super().__init__(state)
        self.state, self.request, self.problem = state, request, problem


REVIEW_INPUT = "review"  # the key of the form in input_requests / input_responses


def input_required(need: NeedsInput):
    """The tool's answer that asks the client for the person's decision."""
    from mcp.types import ElicitRequest, ElicitRequestFormParams, InputRequiredResult

    message = review_message(ReviewRequest.model_validate(need.request), need.problem)
    form = ElicitRequestFormParams(message=message, requested_schema=ReviewForm.model_json_schema())
    return InputRequiredResult(input_requests={REVIEW_INPUT: ElicitRequest(params=form)},
                               request_state=need.state)


def answered_decision(state: str, request: dict, responses, forms: int = 0) -> ReviewDecision:
    """The decision in a retried call's ``input_responses``; raises :class:`NeedsInput` to ask
    again (no answer, or a form that makes no decision: ``forms`` such in a row so far) and
    :class:`ReviewStopped` when the person declined or cancelled, or after :data:`MAX_FORMS`
    forms without a decision."""
    response = (responses or {}).get(REVIEW_INPUT)
    if response is None or getattr(response, "action", None) is None:
        problem = "no answer came with the retried call"
    elif response.action != "accept":
        raise ReviewStopped(_stopped(response.action))
    else:
        try:
            return ReviewForm.model_validate(response.content or {}).decision()
        except ValidationError as exc:
            problem = _first_error(exc)
    if forms + 1 >= MAX_FORMS:
        raise ReviewStopped(f"review: {MAX_FORMS} forms without a usable decision ({problem}); "
                            "nothing was committed")
    raise NeedsInput(state, request, problem)


def _stopped(action: str) -> str:
    done = "declined" if action == "decline" else "cancelled"
    return (f"review {done} by the person: nothing was committed (call locate_image without "
            "review for the unreviewed answer)")


def can_elicit(capabilities) -> bool:
    """Whether the client declared the elicitation capability."""
    return capabilities is not None and getattr(capabilities, "elicitation", None) is not None


__all__ = ["MAX_ROUNDS", "NO_ELICITATION", "REVIEW_INPUT", "NeedsInput",
           "NoBackChannel", "ReviewForm", "ReviewStopped", "answered_decision", "ask", "can_elicit",
           "input_required", "review_message"]
