"""Human review over MCP (app/mcp/review.py): ``locate_image`` with ``settings.review`` asks the
person through the client's elicitation form before commit, in process with the SDK's own
client (``mcp.Client`` over the in-memory transport) and the deterministic policy: approve,
a refused edit asked again with the verifier's reason, an incomplete form asked again, a
declined review that commits nothing, and a client that cannot elicit."""

from __future__ import annotations

import asyncio

import pytest
from imaging import hangzhou_shop

from sinoloc.agent.boundary import ServeBoundary
from sinoloc.agent.schemas import GeoPrediction
from sinoloc.app.mcp.review import NO_ELICITATION
from sinoloc.app.mcp.server import Locator, build_server

pytest.importorskip("mcp")


@pytest.fixture(scope="module")
def locator(tmp_path_factory) -> Locator:
    folder = tmp_path_factory.mktemp("mcp-review")
    hangzhou_shop(folder / "shop.jpg")  # 浙江省杭州市西湖区: address, landline, plate
    boundary = ServeBoundary(upload_dir=folder / "uploads", images_root=folder, offline=True)
    return Locator(None, boundary=boundary)


def run(locator: Locator, answers: list[dict], *, elicitation: bool = True,
        settings: dict | None = None, mode: str = "legacy"):
    """Call locate_image as a client whose user answers each form with the next of ``answers``
    (``{"action": "accept", "content": {...}}`` or ``{"action": "decline"}``); returns the
    result and the messages the user was shown."""
    from mcp import Client
    from mcp.types import ElicitResult

    shown: list[str] = []

    async def answer(context, params):
        shown.append(params.message)
        return ElicitResult(**answers[len(shown) - 1])

    async def call():
        kwargs = {"elicitation_callback": answer} if elicitation else {}
        async with Client(build_server(locator), mode=mode, **kwargs) as client:
            return await client.call_tool("locate_image", {
                "image": "shop.jpg", "settings": settings or {"review": True}})

    return asyncio.run(call()), shown


def approve() -> dict:
    return {"action": "accept", "content": {"action": "approve"}}


def test_an_approved_review_commits_the_proposal(locator):
    result, shown = run(locator, [approve()])
    assert not result.is_error, result.content
    prediction = GeoPrediction.model_validate(result.structured_content)
    assert (prediction.city, prediction.district) == ("杭州市", "西湖区")
    assert len(shown) == 1
    assert shown[0].startswith("sinoloc proposes: 浙江省杭州市西湖区")
    assert "E2 phone" in shown[0] and "Approve it, edit it" in shown[0]
    assert locator._review_graph.checkpointer.storage == {}  # the call's thread is gone


def test_an_edit_the_evidence_rules_out_is_asked_again_with_the_reason(locator):
    edit = {"action": "accept", "content": {"action": "edit", "place": "江苏省苏州市姑苏区"}}
    result, shown = run(locator, [edit, approve()])
    assert not result.is_error, result.content
    assert result.structured_content["district"] == "西湖区"
    assert len(shown) == 2 and "Your last answer was not taken:" in shown[1]
    assert "Your last answer was not taken" not in shown[0]


def test_a_form_that_makes_no_decision_is_asked_again(locator):
    empty_edit = {"action": "accept", "content": {"action": "edit"}}
    result, shown = run(locator, [empty_edit, approve()])
    assert not result.is_error, result.content
    assert "Your last answer was not taken: edit needs place" in shown[1]


def test_a_declined_review_commits_nothing(locator):
    result, shown = run(locator, [{"action": "decline"}])
    assert result.is_error and len(shown) == 1
    message = result.content[0].text
    assert "review declined by the person: nothing was committed" in message
    assert "\n" not in message
    assert locator._review_graph.checkpointer.storage == {}


def test_a_client_that_cannot_elicit_is_refused_before_the_run(locator):
    result, shown = run(locator, [], elicitation=False)
    assert result.is_error and shown == []
    assert NO_ELICITATION in result.content[0].text


def test_without_review_no_form_is_shown(locator):
    result, shown = run(locator, [], settings={"top_k": 3})
    assert not result.is_error and shown == []
    assert result.structured_content["district"] == "西湖区"


@pytest.mark.parametrize("answers", [[approve()], [
    {"action": "accept", "content": {"action": "edit", "place": "江苏省苏州市姑苏区"}},
    {"action": "accept", "content": {"action": "edit"}}, approve()]])
def test_a_stateless_session_gets_the_form_in_the_result_and_answers_by_retrying(locator, answers):
    """The 2026 protocol has no back-channel: the call returns the form with the paused run's
    thread as its request_state, and the SDK's client retries it with the person's answer."""
    result, shown = run(locator, answers, mode="auto")
    assert not result.is_error, result.content
    assert result.structured_content["district"] == "西湖区"
    assert len(shown) == len(answers) and shown[0].startswith("sinoloc proposes: 浙江省杭州市西湖区")
    assert all("Your last answer was not taken:" in m for m in shown[1:])
    assert len(locator._pending) == 0 and locator._review_graph.checkpointer.storage == {}


def test_a_stateless_decline_commits_nothing_and_frees_the_run(locator):
    result, shown = run(locator, [{"action": "decline"}], mode="auto")
    assert result.is_error and len(shown) == 1
    assert "review declined by the person: nothing was committed" in result.content[0].text
    assert len(locator._pending) == 0 and locator._review_graph.checkpointer.storage == {}


def test_a_forged_request_state_resumes_nothing(locator):
    from mcp.server.mcpserver.exceptions import ToolError

    from sinoloc.app.mcp.server import ClientSettings

    with pytest.raises(ToolError, match="request_state is unknown or expired"):
        asyncio.run(locator.locate("shop.jpg", ClientSettings(review=True),
                                   answer=("0" * 32, {})))


def test_an_answer_that_does_not_fit_the_form_is_asked_again_over_a_back_channel(locator):
    """The SDK refuses content outside the form's schema (an unknown action): asked again."""
    result, shown = run(locator, [{"action": "accept", "content": {"action": "maybe"}}, approve()])
    assert not result.is_error, result.content
    assert len(shown) == 2 and "Your last answer was not taken:" in shown[1]


def test_the_stateless_route_returns_the_form_and_is_retried_with_the_answer(locator,
                                                                             monkeypatch):
    retried = []
    original = Locator.locate

    async def spy(self, image, settings, progress=None, elicit=None, answer=None):
        retried.append(answer is not None)
        return await original(self, image, settings, progress, elicit, answer)

    monkeypatch.setattr(Locator, "locate", spy)
    result, shown = run(locator, [approve()], mode="auto")
    assert not result.is_error and retried == [False, True] and len(shown) == 1


def test_stateless_forms_without_a_decision_end_the_review(locator):
    empty_edit = {"action": "accept", "content": {"action": "edit"}}
    result, shown = run(locator, [empty_edit] * 3, mode="auto")
    assert result.is_error and len(shown) == 3
    assert "3 forms without a usable decision (edit needs place)" in result.content[0].text
    assert len(locator._pending) == 0 and locator._review_graph.checkpointer.storage == {}


def test_a_parked_review_keeps_the_stored_image_not_the_clients_upload(locator, tmp_path):
    """A run paused for a person's answer is held in memory: the client's data: URI (up to
    70 MB) is not in it, only the upload store's path."""
    import base64

    from mcp.shared.exceptions import NoBackChannelError

    from sinoloc.app.mcp.review import NeedsInput
    from sinoloc.app.mcp.server import ClientSettings

    shop = tmp_path / "shop.jpg"
    hangzhou_shop(shop)
    upload = "data:image/jpeg;base64," + base64.b64encode(shop.read_bytes()).decode()

    async def no_back_channel(message, schema):
        raise NoBackChannelError("elicitation/create")

    with pytest.raises(NeedsInput) as parked:
        asyncio.run(locator.locate(upload, ClientSettings(review=True), elicit=no_back_channel))
    saver = locator._review_graph.checkpointer
    held = repr(saver.storage) + repr(saver.blobs) + repr(saver.writes)
    assert parked.value.state in held and upload[22:2000] not in held
    locator._pending.close(parked.value.state)
    assert len(locator._pending) == 0 and saver.storage == {}
