"""The in-process Qwen-VL backend on tiny random Qwen2-VL and Qwen2.5-VL models saved by the
test (with and without a LoRA adapter), and tool-call parsing on fixed model outputs."""

import base64
import io

import pytest
from imaging import hangzhou_shop
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage
from PIL import Image

pytest.importorskip("transformers")
pytest.importorskip("peft")

from tiny_qwen import save_tiny_lora, save_tiny_qwen

from sinoloc.agent.llm import LlmSpec
from sinoloc.agent.llm.qwen_local import (
    IMAGE_PAD,
    LocalModelError,
    QwenVLChatModel,
    expand_image_pads,
)
from sinoloc.agent.llm.toolcalls import parse_tool_calls
from sinoloc.agent.policies import build_policy
from sinoloc.agent.toolbox.definitions import tool_definitions


@pytest.fixture(scope="module", params=["qwen2_vl", "qwen2_5_vl"])
def tiny(request, tmp_path_factory):
    root = tmp_path_factory.mktemp(request.param)
    model_dir = save_tiny_qwen(root / "model", request.param)
    return model_dir, save_tiny_lora(model_dir, root / "lora")


def _image_block(color=(20, 120, 40)) -> dict:
    buffer = io.BytesIO()
    Image.new("RGB", (300, 200), color).save(buffer, format="JPEG")
    return {"type": "image", "base64": base64.b64encode(buffer.getvalue()).decode(),
            "mime_type": "image/jpeg"}


def test_render_uses_tools_template_and_expands_the_image(tiny):
    model = QwenVLChatModel.from_path(str(tiny[0]), max_new_tokens=4)
    from langchain_core.utils.function_calling import convert_to_openai_tool

    tools = [convert_to_openai_tool(t) for t in tool_definitions()]
    messages = [SystemMessage("You are sinoloc."),
                HumanMessage(content=[{"type": "text", "text": "Locate this photo."},
                                      _image_block()]),
                AIMessage(content="", tool_calls=[{"name": "ocr", "args": {"heading": 90},
                                                   "id": "c1", "type": "tool_call"}]),
                ToolMessage(content='{"status": "ok"}', tool_call_id="c1")]
    text, vision = model.render(messages, tools)
    assert "<tools>" in text and '"name": "submit_answer"' in text
    assert '<tool_call>\n{"name": "ocr", "arguments": {"heading": 90}}\n</tool_call>' in text
    assert "<tool_response>\n{\"status\": \"ok\"}\n</tool_response>" in text
    assert text.endswith("<|im_start|>assistant\n")
    grid = vision["image_grid_thw"][0]
    assert text.count(IMAGE_PAD) == int(grid.prod()) // 4


@pytest.mark.slow
@pytest.mark.parametrize("with_lora", [False, True])
def test_local_backend_runs_an_agent_step(tiny, tmp_path, with_lora):
    model_dir, lora_dir = tiny
    spec = LlmSpec.parse(f"local:{model_dir}" + (f"+{lora_dir}" if with_lora else ""),
                         max_tokens=8)
    assert spec.lora == (str(lora_dir) if with_lora else None)
    policy = build_policy(spec)
    assert policy.name == spec.label and policy.name.startswith("local:")
    path = tmp_path / "shop.jpg"
    hangzhou_shop(path)
    from sinoloc.agent.api import Geolocator

    p = Geolocator(policy).locate(path, max_model_calls=2)
    # a random model produces no usable call: the run falls back and still answers
    assert p.backend == spec.label and p.usage.model_calls + p.usage.model_errors >= 1
    assert p.usage.input_tokens > 100 and p.usage.cost_usd == 0.0
    assert p.district == "西湖区" and p.answered_by == "fusion"


def test_generated_tool_call_becomes_tool_calls(tiny, monkeypatch):
    model = QwenVLChatModel.from_path(str(tiny[0]), max_new_tokens=4)
    fixed = ('I will read the sign.\n<tool_call>\n{"name": "ocr", "arguments": {"heading": 90}}'
             '\n</tool_call><|im_end|>')
    monkeypatch.setattr(model, "_generate_text", lambda text, vision: (fixed, 120, 30))
    out = model.bind_tools(tool_definitions()).invoke([HumanMessage("Locate.")])
    assert out.content == "I will read the sign."
    assert [(c["name"], c["args"]) for c in out.tool_calls] == [("ocr", {"heading": 90})]
    assert out.usage_metadata["input_tokens"] == 120


def test_not_a_model_directory(tmp_path):
    with pytest.raises(LocalModelError, match=r"config\.json"):
        QwenVLChatModel.from_path(str(tmp_path))


def test_image_pads_must_match_images():
    assert expand_image_pads(f"a{IMAGE_PAD}b", [3]) == f"a{IMAGE_PAD * 3}b"
    with pytest.raises(ValueError):
        expand_image_pads(f"a{IMAGE_PAD}b", [])


@pytest.mark.parametrize(("text", "names", "invalid"), [
    ('<tool_call>\n{"name": "ocr", "arguments": {}}\n</tool_call>', ["ocr"], 0),
    ('<tool_call>{"name": "ocr", "arguments": {}}</tool_call>\n<tool_call>{"name": '
     '"lookup_clues", "arguments": "{\\"text\\": \\"0571\\"}"}</tool_call>',
     ["ocr", "lookup_clues"], 0),
    ('<tool_call>\n```json\n{"name": "ocr", "arguments": {"box": [0, 0, 1, 1]}}\n```\n</tool_call>',
     ["ocr"], 0),
    ('<tool_call>{"name": "ocr", "arguments": {"heading": 90}}', ["ocr"], 0),  # no end tag
    ('<tool_call>{"name": "ocr", "arguments": {"heading": 9', [], 1),  # cut off mid-JSON
    ('<tool_call>{"arguments": {}}</tool_call>', [], 1),  # no name
    ('<tool_call>{"name": "ocr", "arguments": [1, 2]}</tool_call>', [], 1),
    ('<tool_call>["ocr"]</tool_call>', [], 1),
    ("I think this is 杭州.", [], 0),
])
def test_parse_tool_calls(text, names, invalid):
    prose, calls, bad = parse_tool_calls(text)
    assert [c["name"] for c in calls] == names
    assert len(bad) == invalid
    assert all(b["error"] for b in bad)
    assert "<tool_call>" not in prose


def test_cli_with_a_local_model(tiny, tmp_path, capsys):
    from sinoloc.agent.schemas import GeoPrediction
    from sinoloc.app.cli.main import main

    path = tmp_path / "shop.jpg"
    hangzhou_shop(path)
    code = main(["locate", str(path), "--llm", f"local:{tiny[0]}", "--max-tokens", "4",
                 "--max-model-calls", "1", "--json"])
    assert code == 0
    p = GeoPrediction.model_validate_json(capsys.readouterr().out)
    assert p.backend.startswith("local:") and p.district == "西湖区"
