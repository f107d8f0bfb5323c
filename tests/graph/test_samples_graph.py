"""``samples`` in the graph with a scripted chat model: on a thread (a checkpointer) a sampled
first answer is followed by a question that continues the chosen trajectory's conversation;
a second image on the thread starts afresh (no trajectory of the first is pooled, no report is
carried over); a served graph's operator caps a client's samples; and the deterministic
policy runs once, saying so."""

import base64
import io

import pytest
from imaging import hangzhou_shop
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langgraph.checkpoint.memory import InMemorySaver
from PIL import Image
from scripted_model import ScriptedChatModel, call, reply

from sinoloc.agent.boundary import ServeBoundary
from sinoloc.agent.graph import build_graph
from sinoloc.agent.output.render import render_text
from sinoloc.agent.policies.model import ChatModelPolicy
from sinoloc.agent.schemas import GeoPrediction

HANGZHOU = {"province": "浙江省", "city": "杭州市", "district": "西湖区", "lat": 30.2741,
            "lon": 120.1247, "province_evidence": ["E1", "E2", "E3"],
            "city_evidence": ["E1", "E2", "E3"], "district_evidence": ["E1"],
            "reasoning": "address, landline and plate agree"}  # the shop's prelude evidence
QUESTION = "which evidence decided the district?"


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    path = tmp_path_factory.mktemp("samples") / "shop.jpg"
    hangzhou_shop(path)
    return path


def decide(messages) -> AIMessage:
    """A follow-up question gets words; otherwise submit, citing the prelude's evidence."""
    last_human = next(m for m in reversed(messages) if isinstance(m, HumanMessage))
    if QUESTION in last_human.text:
        return reply(text="E-ids from the sign's address decided it.")
    if any(isinstance(m, ToolMessage) and m.name == "submit_answer" for m in messages):
        raise AssertionError("the answer should have been accepted")
    return reply(call("submit_answer", **HANGZHOU))


def test_a_sampled_answer_then_a_question_on_the_same_thread(shop):
    model = ScriptedChatModel(script=[decide], repeat_last=True)
    graph = build_graph(ChatModelPolicy(model, "scripted:test", sleep=lambda s: None),
                        checkpointer=InMemorySaver())
    config = {"configurable": {"thread_id": "t"}}
    out = graph.invoke({"request": {"image_path": str(shop), "samples": 3,
                                    "max_model_calls": 12, "adaptive_budget": False}}, config)
    p = out["prediction"]
    assert p["district"] == "西湖区" and p["samples"]["k"] == 3
    assert p["samples"]["agreement"] == 1.0 and p["usage"]["model_calls"] == 3
    text = render_text(GeoPrediction.model_validate(p))
    assert "trajectories: 3 of 3 asked, agreement 3/3 (1.00)" in text
    # the scripted model has no temperature: the prompt variants alone differ, and it says so
    assert "  2. text (T=model's): 浙江省杭州市西湖区 by scripted:test [voted; 1 model" in text
    state = graph.get_state(config).values
    assert state["trajectories"] == []  # pooled and cleared
    chosen = p["samples"]["selected"]
    out = graph.invoke({"question": QUESTION}, config)
    assert out["reply"].startswith("E-ids from the sign")
    asked = model.received[-1]  # the question continues the chosen trajectory's conversation
    assert sum(bool(isinstance(m, AIMessage) and m.tool_calls) for m in asked) == 1
    assert chosen in (1, 2, 3)
    # a second image on the thread, one trajectory: nothing of the first is carried over
    out = graph.invoke({"request": {"image_path": str(shop)}}, config)
    assert "samples" not in out["prediction"] and out["prediction"]["usage"]["model_calls"] == 1


def test_the_deterministic_policy_runs_one_trajectory_and_says_so(shop):
    out = build_graph().invoke({"request": {"image_path": str(shop), "samples": 3}})
    p = out["prediction"]
    assert p["samples"]["k"] == 1 and p["district"] == "西湖区"
    assert any("deterministic policy has nothing to sample" in w for w in p["warnings"])
    assert p["verification"]["accepted"] and p["samples"]["selected"] == 1
    assert not any("pooled evidence" in w for w in p["warnings"])


def test_a_served_graphs_operator_caps_the_samples(tmp_path, monkeypatch):
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (120, 130, 140)).save(buffer, format="PNG")
    upload = base64.b64encode(buffer.getvalue()).decode()
    monkeypatch.setenv("SINOLOC_UPLOAD_DIR", str(tmp_path / "uploads"))
    monkeypatch.setenv("SINOLOC_SERVE_MAX_SAMPLES", "2")
    boundary = ServeBoundary.from_env()
    admitted, _ = boundary.admit({"image_path": upload, "samples": 6}, {})
    assert admitted.samples == 2
    admitted, _ = boundary.admit({"image_path": upload}, {"samples": 1})
    assert admitted.samples == 1
