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


# ---------------------------------------------------------------- with review, records, a served graph
def look_then_submit(messages) -> AIMessage:
    """Reverse-geocode the shop's point (an offline, findings-free tool: the trajectories'
    identical calls share the per-image cache), then submit."""
    if any(isinstance(m, ToolMessage) and m.name == "reverse_geocode" for m in messages):
        return reply(call("submit_answer", **HANGZHOU))
    return reply(call("reverse_geocode", lat=HANGZHOU["lat"], lon=HANGZHOU["lon"]))


def _sampled(graph, shop, config=None, **fields):
    return graph.invoke({"request": {"image_path": str(shop), "samples": 3, "max_model_calls": 12,
                                     "adaptive_budget": False, **fields}}, config)


def test_a_selected_answer_goes_through_review_before_commit(shop):
    from langgraph.types import Command

    model = ScriptedChatModel(script=[decide], repeat_last=True)
    graph = build_graph(ChatModelPolicy(model, "scripted:test", sleep=lambda s: None),
                        checkpointer=InMemorySaver())
    config = {"configurable": {"thread_id": "review"}}
    out = _sampled(graph, shop, config, review=True)
    assert "__interrupt__" in out and out.get("prediction") is None  # stopped after select
    proposal = out["__interrupt__"][0].value["proposal"]
    assert proposal["district"] == "西湖区" and proposal["samples"]["k"] == 3
    out = graph.invoke(Command(resume={"action": "approve"}), config)
    p = out["prediction"]
    assert p["district"] == "西湖区" and p["samples"]["k"] == 3 and p["usage"]["model_calls"] == 3


def test_a_sampled_run_replays_from_its_record_trajectory_by_trajectory(shop, tmp_path):
    from sinoloc.agent.records import RunRecording, load_record, open_record, replay_policy
    from sinoloc.agent.records.recording import file_sha256
    from sinoloc.eval.replay_compare import without_timings

    folder, sha = tmp_path / "record", file_sha256(shop)
    open_record(folder, backend="scripted:test")
    model = ScriptedChatModel(script=[look_then_submit], repeat_last=True)
    recording = RunRecording(record_to=folder)
    with recording.image("shop", sha) as session:
        first = _sampled(build_graph(ChatModelPolicy(model, "scripted:test",
                                                     sleep=lambda s: None)), shop)["prediction"]
        session.finish("ok")
    recording.close()
    assert first["samples"]["k"] == 3 and first["samples"]["tool_cache"] == {"calls": 3, "hits": 2}
    steps = load_record(folder).images["shop"].steps
    by_kind = {kind: [s for s in steps if s.kind == kind] for kind in ("model", "tool", "verify")}
    assert len(by_kind["model"]) == 6 and len(by_kind["verify"]) == 3
    assert sum(s.name == "reverse_geocode" for s in by_kind["tool"]) == 3  # a cache hit too
    assert {(s.data or {}).get("sample") for s in by_kind["verify"]} == {1, 2, 3}

    replay = RunRecording(replay_from=folder)
    with replay.image("shop", sha) as session:
        again = _sampled(build_graph(replay_policy(load_record(folder))), shop)["prediction"]
        outcome = session.finish("ok")
    assert outcome["misses"] == 0 and outcome["divergence"] is None and outcome["live_calls"] == 0
    assert without_timings(again) == without_timings(first)  # the cache's counts included


def test_a_served_graph_clamps_samples_from_configurable_and_thread_state(tmp_path, monkeypatch):
    from sinoloc.agent.samples.nodes import honest_plan
    from sinoloc.agent.samples.plan import plan_samples

    monkeypatch.setenv("SINOLOC_UPLOAD_DIR", str(tmp_path / "uploads"))
    boundary = ServeBoundary.from_env()  # the default cap: 3
    assert boundary.limit({"samples": 8, "max_model_calls": 5}) == {"samples": 3, "max_model_calls": 5}
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (120, 130, 140)).save(buffer, format="PNG")
    upload = base64.b64encode(buffer.getvalue()).decode()
    admitted, loaded = boundary.admit({"image_path": upload}, {"samples": 7})
    assert admitted.samples == 3
    # thread state a client wrote: more trajectories than the operator allows are lowered
    state = {"request": {**admitted.model_dump(mode="json"), "samples": 8},
             "image": {"sha256": loaded.meta.sha256, "path": admitted.image_path},
             "tool_trace": [], "usage": {}, "messages": []}
    checked = boundary.checked_state(state)
    assert checked["request"]["samples"] == 3
    # a samples plan is checked against the request before the trajectories start
    plan = plan_samples(checked, can_sample=True)
    assert plan.k == 3 and honest_plan(checked, plan)
    forged = plan.model_copy(update={"model_calls_each": 100})
    assert not honest_plan(checked, forged)
    more = plan.model_copy(update={"k": 5, "samples": [*plan.samples, *plan.samples[:2]]})
    assert not honest_plan(checked, more)


def knowledge_then_submit(messages) -> AIMessage:
    """Each trajectory looks a clue up in the knowledge base, then submits."""
    if not any(isinstance(m, ToolMessage) and m.name == "lookup_knowledge" for m in messages):
        return reply(call("lookup_knowledge", query="杭州 西湖 文三路"))
    return reply(call("submit_answer", **HANGZHOU))


def test_each_trajectorys_tool_calls_stream_as_they_run_labelled_with_it(shop):
    """The surfaces' stream (app/chat/events.graph_stream) lets the trajectories' tool events
    through, each labelled with its trajectory, before the selected answer."""
    from sinoloc.app.chat.events import graph_stream, stream_events

    model = ScriptedChatModel(script=[knowledge_then_submit], repeat_last=True)
    graph = build_graph(ChatModelPolicy(model, "scripted:test", sleep=lambda s: None))
    request = {"image_path": str(shop), "samples": 2, "max_model_calls": 12,
               "adaptive_budget": False}
    events = [e for mode, chunk in graph_stream(graph, {"request": request}, {})
              for e in stream_events(mode, chunk)]
    kinds = [e.kind for e in events]
    answer = kinds.index("answer")
    looked = [e for e in events[:answer] if e.kind == "tool_start"
              and "lookup_knowledge(" in e.text]
    assert sorted(e.text.split("]")[0] for e in looked) == ["[trajectory 1", "[trajectory 2"]
    assert sorted(e.data["sample"] for e in looked) == [1, 2]
    results = [e for e in events[:answer] if e.kind == "tool_result"
               and e.text.split("] ", 1)[-1].startswith("lookup_knowledge:")]
    assert sorted(e.data["sample"] for e in results) == [1, 2]
    assert all(e.text.startswith(f"[trajectory {e.data['sample']}] ") for e in results)
    # the graph's own tool calls (the prelude's) carry no label
    prelude = [e for e in events if e.kind == "tool_start" and e.text.startswith("ocr(")]
    assert prelude and "sample" not in prelude[0].data
