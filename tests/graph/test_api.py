"""The public API: image inputs in every form, settings and configurable, alocate, the graph as
a subgraph, GeolocateTool in a create_agent agent, get_tools, schemas and langgraph.json."""

import asyncio
import base64
import importlib.util
import io
import json
from pathlib import Path

import pytest
from imaging import hangzhou_shop
from langchain_core.messages import AIMessage, ToolMessage
from PIL import Image
from scripted_model import ScriptedChatModel, call, reply

import sinoloc
from sinoloc import GeolocateTool, Geolocator, GeoPrediction, ImageInputError, build_graph
from sinoloc.agent.toolbox.langchain import ToolSession, get_tools
from sinoloc.tools.image_sources import (
    decode_base64_image,
    image_to_path,
    looks_like_base64,
    store_image_bytes,
)

ROOT = Path(__file__).resolve().parents[2]
HANGZHOU = {"province": "浙江省", "city": "杭州市", "district": "西湖区", "lat": 30.2741,
            "lon": 120.1247, "province_evidence": ["E1", "E2", "E3"],
            "city_evidence": ["E1", "E2", "E3"], "district_evidence": ["E1"],
            "reasoning": "address, landline and plate agree"}
SCRIPTED: ScriptedChatModel | None = None


def scripted_model() -> ScriptedChatModel:
    """``configurable={"llm": "python:test_api:scripted_model"}`` loads this."""
    return SCRIPTED


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    path = tmp_path_factory.mktemp("api") / "shop.jpg"
    hangzhou_shop(path)
    return path


@pytest.fixture(autouse=True)
def image_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SINOLOC_CACHE_DIR", str(tmp_path / "cache"))


@pytest.fixture(scope="module")
def geolocator():
    return Geolocator()


# ------------------------------------------------------------------ image inputs
@pytest.mark.slow
def test_every_image_form_gives_the_same_answer(shop, geolocator, tmp_path):
    data = shop.read_bytes()
    forms = {"path": shop, "str": str(shop), "bytes": data, "bytearray": bytearray(data),
             "pil": Image.open(shop), "base64": base64.b64encode(data).decode(),
             "data_uri": "data:image/jpeg;base64," + base64.b64encode(data).decode(),
             "urlsafe": base64.urlsafe_b64encode(data).decode().rstrip("=")}
    for name, image in forms.items():
        p = geolocator.locate(image)
        assert p.district_adcode == "330106", name
    cached = list((tmp_path / "cache" / "images").iterdir())
    assert {c.suffix for c in cached} == {".jpg", ".png"}  # bytes once, the PIL image as PNG
    assert len(cached) == 2


def test_bad_image_inputs_are_clear_errors(geolocator, tmp_path):
    with pytest.raises(ImageInputError, match="not valid base64"):
        image_to_path("A" * 97)  # base64-looking, but not a whole number of bytes
    with pytest.raises(ImageInputError, match="not an image"):
        geolocator.locate(b"just some text, not a picture")
    with pytest.raises(ImageInputError, match="empty"):
        geolocator.locate(b"")
    with pytest.raises(ImageInputError, match="no such file"):
        geolocator.locate("missing.jpg")
    with pytest.raises(ImageInputError, match="cannot read an image from a int"):
        geolocator.locate(42)
    assert not (tmp_path / "cache" / "images").exists() or not any(
        p.suffix == ".part" for p in (tmp_path / "cache" / "images").iterdir())


def test_huge_bytes_refused_before_writing(monkeypatch, tmp_path):
    monkeypatch.setattr("sinoloc.tools.image_sources.MAX_FILE_BYTES", 1000)
    with pytest.raises(ImageInputError, match="over the"):
        store_image_bytes(b"\xff\xd8\xff" + b"0" * 2000, tmp_path / "images")
    assert not (tmp_path / "images").exists()


def test_image_store_units(tmp_path):
    buffer = io.BytesIO()
    Image.new("RGB", (32, 32), (1, 2, 3)).save(buffer, format="PNG")
    png = buffer.getvalue()  # a real image: the store checks bytes before writing them
    first = store_image_bytes(png, tmp_path)
    assert first.suffix == ".png" and store_image_bytes(png, tmp_path) == first
    assert decode_base64_image("data:image/png;base64," + base64.b64encode(b"abc").decode()) \
        == b"abc"
    assert looks_like_base64("A" * 80) and not looks_like_base64("photos/IMG_0001.jpg")
    assert not looks_like_base64("A" * 10)


# ------------------------------------------------------------------ settings, async
def test_settings_options_and_configurable_precedence(shop):
    geo = Geolocator(settings={"top_k": 4}, max_tool_calls=30)
    assert len(geo.locate(shop).candidates) == 4
    assert len(geo.locate(shop, top_k=2).candidates) == 2  # a call's option wins
    graph = build_graph()
    out = graph.invoke({"request": {"image_path": str(shop)}},
                       {"configurable": {"top_k": 3}})
    assert len(out["prediction"]["candidates"]) == 3  # configurable fills the default
    out = graph.invoke({"request": {"image_path": str(shop), "top_k": 6}},
                       {"configurable": {"top_k": 3}})
    assert len(out["prediction"]["candidates"]) == 6  # the request's own field wins
    with pytest.raises(ValueError, match="top_k"):
        Geolocator(settings={"top_k": 0})
    with pytest.raises(ValueError, match="at most one"):
        Geolocator(llm="none", chat_model=ScriptedChatModel())


def test_alocate(shop, geolocator):
    async def both():
        return await asyncio.gather(geolocator.alocate(shop), geolocator.alocate(shop.read_bytes()))

    for p in asyncio.run(both()):
        assert isinstance(p, GeoPrediction) and p.district_adcode == "330106"
        assert p.timings["total"] > 0


def test_configurable_llm_picks_the_model_per_run(shop):
    global SCRIPTED
    SCRIPTED = ScriptedChatModel(script=[reply(call("submit_answer", **HANGZHOU))])
    graph = build_graph()
    out = graph.invoke({"request": {"image_path": str(shop)}},
                       {"configurable": {"llm": "python:test_api:scripted_model"}})
    assert out["prediction"]["backend"] == "python:test_api:scripted_model"
    assert out["prediction"]["answered_by"] == "python:test_api:scripted_model"
    assert not SCRIPTED.script
    plain = graph.invoke({"request": {"image_path": str(shop)}})
    assert plain["prediction"]["backend"] == "deterministic"


# ------------------------------------------------------------------ embedding
def test_subgraph_in_a_parent_graph_with_a_scripted_model(shop):
    from typing import TypedDict

    from langgraph.graph import END, START, StateGraph

    class Parent(TypedDict, total=False):
        request: dict
        prediction: dict
        verdict_seen: str

    model = ScriptedChatModel(script=[
        reply(call("geocode_poi", query="文三路", within="杭州市")),
        reply(call("submit_answer", **HANGZHOU))])
    parent = StateGraph(Parent)
    parent.add_node("geolocate", build_graph(chat_model=model))
    parent.add_node("after", lambda s: {"verdict_seen": s["prediction"]["district"]})
    parent.add_edge(START, "geolocate")
    parent.add_edge("geolocate", "after")
    parent.add_edge("after", END)
    out = parent.compile().invoke({"request": {"image_path": str(shop)}})
    assert out["verdict_seen"] == "西湖区"
    assert out["prediction"]["answered_by"].startswith("chat_model:")
    assert [t["tool"] for t in out["prediction"]["tool_calls"]][-1] == "geocode_poi"
    assert set(out) == {"request", "prediction", "verdict_seen"}  # nothing else leaks out


def test_create_agent_calls_geolocate_tool(shop):
    from langchain.agents import create_agent

    model = ScriptedChatModel(script=[
        reply(call("geolocate_image", image=str(shop))),
        lambda messages: AIMessage(content="Taken in " + json.loads(
            messages[-1].content)["district"])])
    agent = create_agent(model, tools=[GeolocateTool()])
    result = agent.invoke({"messages": [{"role": "user", "content": f"Where is {shop}?"}]})
    tool_message = next(m for m in result["messages"] if isinstance(m, ToolMessage))
    assert isinstance(tool_message.artifact, GeoPrediction)
    assert tool_message.artifact.district_adcode == "330106"
    summary = json.loads(tool_message.content)
    assert summary["district"] == "西湖区" and len(summary["candidates"]) == 3
    assert summary["evidence"][0].startswith("E1 ocr_address")
    assert result["messages"][-1].content == "Taken in 西湖区"
    assert [t["function"]["name"] if "function" in t else t.name for t in model.bound_tools] \
        == ["geolocate_image"]


def test_geolocate_tool_errors_and_schema(shop):
    tool = GeolocateTool(geolocator=Geolocator(top_k=2))
    bad = tool.invoke({"name": "geolocate_image", "args": {"image": "nope.jpg"},
                       "id": "c1", "type": "tool_call"})
    assert bad.status == "error" and "no such file" in bad.content
    schema = tool.tool_call_schema.model_json_schema()
    assert schema["properties"]["image"]["type"] == "string"
    assert json.loads(tool.invoke({"image": shop.read_bytes()}))["district"] == "西湖区"


def test_get_tools_session_numbers_evidence_across_calls(shop):
    session = ToolSession(shop)
    tools = {t.name: t for t in session.tools()}
    assert set(tools) == {"cnn_prior", "ocr", "lookup_clues", "geocode_poi", "reverse_geocode",
                          "web_search", "lookup_knowledge", "map_view"}
    message = tools["ocr"].invoke({"name": "ocr", "args": {}, "id": "c1", "type": "tool_call"})
    assert [s["span_id"] for s in message.artifact["ocr_spans"]] == ["T1", "T2", "T3"]
    first = json.loads(tools["lookup_clues"].invoke({}))
    assert first["evidence_ids"] == ["E1", "E2", "E3"]
    extra = json.loads(tools["lookup_clues"].invoke({"text": "电话 010-65123456"}))
    assert extra["evidence_ids"] == ["E4"]
    assert [e.id for e in session.evidence] == ["E1", "E2", "E3", "E4"]
    assert len(session.state["tool_trace"]) == 3
    assert [t.name for t in get_tools(names=["reverse_geocode"])] == ["reverse_geocode"]
    assert "ocr" not in {t.name for t in get_tools()}  # no image: no pixel tools
    with pytest.raises(ValueError, match="unknown tools"):
        get_tools(names=["teleport"])
    assert sinoloc.get_tools is get_tools


# ------------------------------------------------------------------ ecosystem
def test_public_names():
    assert set(sinoloc.__all__) == set(sinoloc._EXPORTS)
    for name in sinoloc.__all__:
        assert getattr(sinoloc, name) is not None
    with pytest.raises(AttributeError):
        sinoloc.nothing_here  # noqa: B018


def test_graph_schemas_for_studio():
    graph = build_graph()
    inputs = graph.get_input_jsonschema()
    assert set(inputs["properties"]) == {"request", "question"}
    request = inputs["$defs"]["LocateRequest"]
    assert "image_path" in request["required"] and "top_k" in request["properties"]
    outputs = graph.get_output_jsonschema()
    assert set(outputs["properties"]) == {"prediction", "reply", "warnings"}
    assert "district_adcode" in outputs["$defs"]["GeoPrediction"]["properties"]


def test_langgraph_json_loads_the_graph_by_file_path():
    config = json.loads((ROOT / "langgraph.json").read_text())
    path, _, attr = config["graphs"]["sinoloc"].partition(":")
    spec = importlib.util.spec_from_file_location("langgraph_user_graph", ROOT / path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # as langgraph dev does: no package, absolute imports
    graph = getattr(module, attr)
    assert graph.name == "sinoloc" and "followup" in graph.get_graph().nodes
