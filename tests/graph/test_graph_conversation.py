"""Threads at the graph level: follow-up questions, revised answers, per-turn budgets, a new
image starting afresh, a cancelled turn's open tool calls, a model failing mid-conversation."""

import pytest
from imaging import hangzhou_shop
from langchain_core.exceptions import ModelAuthenticationError
from langchain_core.messages import AIMessage, ToolMessage
from langgraph.checkpoint.memory import InMemorySaver
from scripted_model import ScriptedChatModel, call, reply

from sinoloc.agent.budgets import is_new_image, unanswered_calls
from sinoloc.agent.graph import NO_IMAGE_YET, build_graph
from sinoloc.agent.policies.deterministic import NEEDS_A_MODEL
from sinoloc.agent.policies.model import ChatModelPolicy
from sinoloc.agent.settings import resolve_request

HANGZHOU = {"province": "浙江省", "city": "杭州市", "district": "西湖区", "lat": 30.2741,
            "lon": 120.1247, "province_evidence": ["E1", "E2", "E3"],
            "city_evidence": ["E1", "E2", "E3"], "district_evidence": ["E1"],
            "reasoning": "address, landline and plate agree"}


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    path = tmp_path_factory.mktemp("conversation") / "shop.jpg"
    hangzhou_shop(path)
    return path


def threaded(model=None):
    policy = ChatModelPolicy(model, "scripted:test", sleep=lambda s: None) if model else None
    graph = build_graph(policy, checkpointer=InMemorySaver())
    return graph, {"configurable": {"thread_id": "t"}}


def test_question_before_any_image(shop):
    graph, config = threaded()
    out = graph.invoke({"question": "where is it?"}, config)
    assert out["reply"] == NO_IMAGE_YET and out.get("prediction") is None


def test_deterministic_policy_explains_questions(shop):
    graph, config = threaded()
    graph.invoke({"request": {"image_path": str(shop)}}, config)
    out = graph.invoke({"question": "why not 江苏?"}, config)
    assert out["reply"] == NEEDS_A_MODEL
    assert out["prediction"]["district"] == "西湖区"  # the answer stands


def test_follow_up_revises_the_answer_and_is_verified(shop):
    revised = {**HANGZHOU, "reasoning": "after zooming: still 西湖区", "lat": 31.0}  # outside
    fixed = {**HANGZHOU, "reasoning": "after zooming: 文三路 is in 西湖区"}
    model = ScriptedChatModel(script=[
        reply(call("submit_answer", **HANGZHOU)),
        reply(call("ocr", box=[0.0, 0.0, 0.7, 0.4])),
        reply(call("submit_answer", **revised)),
        reply(call("submit_answer", **fixed)),
    ])
    graph, config = threaded(model)
    graph.invoke({"request": {"image_path": str(shop)}}, config)
    out = graph.invoke({"question": "zoom into the sign and check"}, config)
    assert not model.script
    assert out["reply"].startswith("Revised answer: 浙江省杭州市西湖区")
    assert out["prediction"]["reasoning"] == fixed["reasoning"]
    assert out["prediction"]["verification"]["round"] == 2  # rounds restart with the turn
    state = graph.get_state(config).values
    assert [e["kind"] for e in state["transcript"]] == ["image", "answer", "question", "answer"]
    sent_back = [m for m in state["messages"] if isinstance(m, ToolMessage)
                 and m.name == "submit_answer" and m.status == "error"]
    assert len(sent_back) == 1 and "point_in_region" in sent_back[0].content


def test_budgets_count_per_turn(shop):
    model = ScriptedChatModel(script=[
        reply(call("ocr", box=[0.0, 0.0, 0.5, 0.5])),
        reply(call("ocr", box=[0.5, 0.0, 1.0, 0.5])),
        reply(call("ocr", box=[0.0, 0.5, 0.5, 1.0])),
    ])  # the first turn never asks the model: the prelude spent its budget
    graph, config = threaded(model)
    first = graph.invoke({"request": {"image_path": str(shop), "max_tool_calls": 3}}, config)
    assert first["prediction"]["answered_by"] == "fusion"  # the prelude spent the 3 calls
    assert any("tool-call budget" in w for w in first["prediction"]["warnings"])
    out = graph.invoke({"question": "read the other corners"}, config)
    trace = graph.get_state(config).values["tool_trace"]
    follow_up = trace[3:]
    assert len(follow_up) == 3 and all(t["status"] != "error" for t in follow_up)  # 3 fresh
    assert out["reply"].startswith("This turn's budget is spent (the tool-call budget (3))")
    assert not model.script and len(model.received) == 3  # none asked once it was spent


def test_new_image_starts_afresh_and_open_calls_are_answered(shop, tmp_path):
    model = ScriptedChatModel(script=[
        reply(call("submit_answer", **HANGZHOU)),
        reply(text="Because of E1."),
        reply(call("submit_answer", **HANGZHOU)),
    ])
    graph, config = threaded(model)
    graph.invoke({"request": {"image_path": str(shop)}}, config)
    # a turn cancelled after the model asked for a tool: the call was never answered
    graph.update_state(config, {"messages": [AIMessage(content="", tool_calls=[
        call("ocr", heading=90.0)])]})
    out = graph.invoke({"question": "why?"}, config)
    assert out["reply"] == "Because of E1."
    sent = model.received[1]
    cancelled = [m for m in sent if isinstance(m, ToolMessage)
                 and "cancelled by the user" in m.content]
    assert len(cancelled) == 1
    before = graph.get_state(config).values
    assert len(before["evidence"]) == 3 and len(before["transcript"]) == 4
    copy = tmp_path / "same.jpg"
    copy.write_bytes(shop.read_bytes())
    graph.invoke({"request": {"image_path": str(copy)}}, config)
    after = graph.get_state(config).values
    assert [e["id"] for e in after["evidence"]] == ["E1", "E2", "E3"]  # not E4…E6
    assert len(after["tool_trace"]) == 3 and after["mode"] == "locate"
    assert "Because of E1." not in str(after["messages"])  # the old conversation is gone
    assert len(after["transcript"]) == 6  # but the thread's transcript keeps both images


def test_model_failure_mid_conversation_falls_back(shop):
    model = ScriptedChatModel(script=[
        reply(call("submit_answer", **HANGZHOU)),
        ModelAuthenticationError("invalid API key"),
    ])
    graph, config = threaded(model)
    graph.invoke({"request": {"image_path": str(shop)}}, config)
    out = graph.invoke({"question": "why?"}, config)
    assert out["reply"] == NEEDS_A_MODEL
    assert any("failed" in w for w in graph.get_state(config).values["warnings"])


def test_turn_units():
    merged = resolve_request({"image_path": "a.jpg", "top_k": 2},
                                {"top_k": 7, "verify": False, "thread_id": "x"})
    assert (merged.top_k, merged.verify, merged.max_tool_calls) == (2, False, 24)
    request = {"image_path": "a.jpg"}
    assert is_new_image({"request": request})
    assert not is_new_image({"request": request, "ingested_request": dict(request)})
    open_call = AIMessage(content="", tool_calls=[call("ocr"), call("web_search", query="x")])
    answered = ToolMessage(content="ok", tool_call_id=open_call.tool_calls[0]["id"])
    repaired = unanswered_calls([open_call, answered])
    assert [m.tool_call_id for m in repaired] == [open_call.tool_calls[1]["id"]]
