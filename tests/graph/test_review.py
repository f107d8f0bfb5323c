"""Human review: with ``review`` the graph stops before commit with the proposed prediction
(LangGraph ``interrupt()``), and a ``Command(resume=...)`` approves, edits, rejects or adds a
clue. The deterministic policy on rendered signs, and a scripted model for the rejection."""

from pathlib import Path

import pytest
from imaging import hangzhou_shop, unplaced_sign
from langchain_core.messages import HumanMessage
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.types import Command
from scripted_model import ScriptedChatModel, call, reply

from sinoloc.agent.api import Geolocator
from sinoloc.agent.graph import build_graph

GUSU = {"province": "江苏省", "city": "苏州市", "district": "姑苏区", "lat": 31.315, "lon": 120.62}


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    """浙江省杭州市西湖区: an address, a landline and a plate agree."""
    path = tmp_path_factory.mktemp("review") / "shop.jpg"
    hangzhou_shop(path)
    return str(path)


@pytest.fixture(scope="module")
def noodle_sign(tmp_path_factory):
    """A shop sign that names no place: nothing locates it."""
    return str(unplaced_sign(tmp_path_factory.mktemp("review") / "noodles.jpg"))


def start(graph, image: str, thread: str):
    config = {"configurable": {"thread_id": thread}}
    out = graph.invoke({"request": {"image_path": image, "review": True}}, config)
    return out, config


def pending(out: dict) -> dict:
    """The review the graph stopped for (fails when it did not stop)."""
    assert "__interrupt__" in out, f"the graph did not stop for review: {sorted(out)}"
    return out["__interrupt__"][0].value


def place(p: dict) -> tuple:
    return p["province"], p["city"], p["district"]


@pytest.fixture
def graph():
    return build_graph(checkpointer=InMemorySaver())


def test_review_stops_before_commit_and_approve_commits_the_proposal(graph, shop):
    out, config = start(graph, shop, "approve")
    request = pending(out)
    assert out.get("prediction") is None  # nothing committed yet
    proposal = request["proposal"]
    assert place(proposal) == ("浙江省", "杭州市", "西湖区")
    assert proposal["candidates"][0]["adcode"] == "330106"
    assert {"ocr_address", "phone", "plate"} <= {e["kind"] for e in proposal["evidence"]}
    assert request["actions"] == ["approve", "edit", "reject", "clue"]
    assert request["feedback"] == ""
    out = graph.invoke(Command(resume={"action": "approve"}), config)
    assert "__interrupt__" not in out
    assert place(out["prediction"]) == place(proposal)
    assert out["prediction"]["lat"] == proposal["lat"]


def test_without_review_the_graph_commits_at_once(graph, shop):
    out = graph.invoke({"request": {"image_path": shop}}, {"configurable": {"thread_id": "no"}})
    assert "__interrupt__" not in out and place(out["prediction"]) == ("浙江省", "杭州市", "西湖区")


def test_an_edit_the_evidence_allows_is_verified_and_committed(graph, noodle_sign, regions):
    out, config = start(graph, noodle_sign, "edit-ok")
    assert place(pending(out)["proposal"]) != ("江苏省", "苏州市", "姑苏区")
    out = graph.invoke(Command(resume={"action": "edit", "place": "江苏省苏州市姑苏区"}), config)
    p = out["prediction"]
    assert place(p) == ("江苏省", "苏州市", "姑苏区")
    assert p["answered_by"] == "user" and p["verification"]["accepted"]
    assert regions.reverse(p["lon"], p["lat"]).adcode == p["district_adcode"]  # a point inside it


def test_an_edit_outside_the_evidence_comes_back_with_the_verifiers_reasons(graph, shop):
    out, config = start(graph, shop, "edit-refused")
    out = graph.invoke(Command(resume={"action": "edit", "place": "江苏省苏州市姑苏区"}), config)
    request = pending(out)  # asked again: the edit was not committed
    assert "did not pass verification" in request["feedback"]
    assert "claim_not_ruled_out" in request["feedback"] or "contradicts" in request["feedback"]
    assert place(request["proposal"]) == ("浙江省", "杭州市", "西湖区")
    out = graph.invoke(Command(resume={"action": "approve"}), config)
    assert place(out["prediction"]) == ("浙江省", "杭州市", "西湖区")


def test_reject_sends_the_reason_to_the_policy_which_answers_again(noodle_sign):
    first = {"province": "河南省", "city": "郑州市", "district": "金水区", "lat": 34.80, "lon": 113.66}
    model = ScriptedChatModel(script=[
        reply(call("submit_answer", **first), text="a guess"),
        reply(call("submit_answer", **GUSU, reasoning="the reviewer says 苏州 style"), text="again"),
    ])
    graph = build_graph(chat_model=model, checkpointer=InMemorySaver())
    out, config = start(graph, noodle_sign, "reject")
    assert place(pending(out)["proposal"]) == ("河南省", "郑州市", "金水区")
    out = graph.invoke(Command(resume={"action": "reject", "reason": "the shopfront is 苏州 style"}),
                       config)
    request = pending(out)  # the policy's new answer is reviewed again
    assert place(request["proposal"]) == ("江苏省", "苏州市", "姑苏区")
    told = [m for m in model.received[-1] if isinstance(m, HumanMessage)]
    assert "the shopfront is 苏州 style" in told[-1].content
    out = graph.invoke(Command(resume={"action": "approve"}), config)
    assert place(out["prediction"]) == ("江苏省", "苏州市", "姑苏区")
    assert out["prediction"]["answered_by"] == "chat_model:ScriptedChatModel"


def test_a_decisive_clue_moves_the_answer(graph, noodle_sign):
    out, config = start(graph, noodle_sign, "clue-moves")
    assert pending(out)["proposal"]["basis"] == "prior_only"
    out = graph.invoke(Command(resume={"action": "clue", "clue": "这是苏州，车牌是苏E"}), config)
    proposal = pending(out)["proposal"]
    assert place(proposal)[:2] == ("江苏省", "苏州市")
    clue = next(e for e in proposal["evidence"] if e["kind"] == "user_clue")
    assert clue["source"] == "user:review" and clue["weight"] >= 0.85
    assert not any("contradicts" in w for w in proposal["warnings"])
    out = graph.invoke(Command(resume={"action": "approve"}), config)
    assert place(out["prediction"])[:2] == ("江苏省", "苏州市")


def test_a_clue_against_stronger_evidence_is_weighed_not_obeyed_and_warned(graph, shop):
    out, config = start(graph, shop, "clue-stays")
    out = graph.invoke(Command(resume={"action": "clue", "clue": "江苏省苏州市"}), config)
    proposal = pending(out)["proposal"]
    assert place(proposal) == ("浙江省", "杭州市", "西湖区")  # the address, phone and plate stand
    assert any(e["kind"] == "user_clue" for e in proposal["evidence"])
    warning = next(w for w in proposal["warnings"] if "your clue" in w)
    assert "contradicts" in warning and "E1" in warning


def test_a_clue_that_names_no_place_is_refused_with_a_reason(graph, noodle_sign):
    out, config = start(graph, noodle_sign, "clue-vague")
    out = graph.invoke(Command(resume={"action": "clue", "clue": "it's in the south"}), config)
    request = pending(out)
    assert "names no place" in request["feedback"]
    assert not any(e["kind"] == "user_clue" for e in request["proposal"]["evidence"])


def test_a_malformed_decision_is_refused_and_the_review_can_be_answered_again(graph, shop):
    from pydantic import ValidationError

    out, config = start(graph, shop, "malformed")
    with pytest.raises(ValidationError):
        graph.invoke(Command(resume={"action": "edit"}), config)  # an edit without a place
    out = graph.invoke(Command(resume={"action": "approve"}), config)
    assert place(out["prediction"]) == ("浙江省", "杭州市", "西湖区")


def test_python_api_review_resume_and_correct(noodle_sign, tmp_path, monkeypatch):
    monkeypatch.setenv("SINOLOC_CORRECTIONS", str(tmp_path / "corrections.jsonl"))
    geo = Geolocator()
    turn = geo.review(noodle_sign)
    assert turn.prediction is None and turn.request is not None
    turn = geo.resume(turn.thread_id, {"action": "clue", "clue": "苏州"})
    assert turn.request is not None and turn.request.proposal.city == "苏州市"
    turn = geo.resume(turn.thread_id, {"action": "approve"})
    assert turn.prediction is not None and turn.prediction.city == "苏州市"
    kept = geo.correct(turn.thread_id, "江苏省苏州市姑苏区", note="I took it")
    assert kept.truth == "江苏省苏州市姑苏区" and kept.truth_adcode == "320508"
    assert kept.image_sha256 == turn.prediction.image.sha256
    assert "老王记牛肉面" in kept.texts and any(e.kind.value == "user_clue" for e in kept.evidence)


def test_the_served_graph_stops_for_review_and_publishes_the_decision_schema(shop, tmp_path):
    import base64

    from sinoloc.agent.langgraph_entry import build_served_graph

    served = build_served_graph({"SINOLOC_UPLOAD_DIR": str(tmp_path / "uploads")},
                                checkpointer=InMemorySaver())
    upload = "data:image/jpeg;base64," + base64.b64encode(Path(shop).read_bytes()).decode()
    config = {"configurable": {"thread_id": "served"}}
    out = served.invoke({"request": {"image_path": upload, "review": True}}, config)
    stopped = out["__interrupt__"][0]
    assert place(stopped.value["proposal"]) == ("浙江省", "杭州市", "西湖区")
    schema = stopped.response_schema  # what a client (Studio, the SDK) renders a form from
    assert set(schema["properties"]) >= {"action", "place", "reason", "clue"}
    out = served.invoke(Command(resume={"action": "approve"}), config)
    assert place(out["prediction"]) == ("浙江省", "杭州市", "西湖区")
