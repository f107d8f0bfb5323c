"""Bad input is refused before the models load: the command exits 2 with one line, and no OCR
runtime, graph or model SDK module was imported (checked in a fresh interpreter, not timed)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

HEAVY = ("onnxruntime", "rapidocr", "langgraph", "langchain_google_genai", "langchain_openai",
         "torch", "transformers", "sinoloc.agent.graph")
PROBE = """
import json, sys
from sinoloc.app.cli.main import main
sys.stdin = open("/dev/null")
code = main(sys.argv[1:])
heavy = sorted(m for m in sys.modules if m.startswith(HEAVY))
print(json.dumps({"code": code, "heavy": heavy[:5]}))
"""


def run(args: list[str], tmp_path) -> tuple[dict, str]:
    env = {**os.environ, "SINOLOC_CACHE_DIR": str(tmp_path / "cache")}
    for name in ("SINOLOC_LLM", "SINOLOC_OFFLINE"):
        env.pop(name, None)
    out = subprocess.run([sys.executable, "-c", f"HEAVY = {HEAVY!r}\n{PROBE}", *args],
                         capture_output=True, text=True, env=env, timeout=120)
    return json.loads(out.stdout.strip().splitlines()[-1]), out.stderr


@pytest.fixture
def text_named_jpg(tmp_path):
    path = tmp_path / "notes.jpg"
    path.write_text("shopping list: rice, tea\n" * 20)
    return path


def test_a_text_file_named_jpg_is_refused_before_the_models_load(tmp_path, text_named_jpg):
    result, err = run(["locate", str(text_named_jpg)], tmp_path)
    assert result["code"] == 2 and "not an image file" in err
    assert len(err.strip().splitlines()) == 1
    assert result["heavy"] == []


@pytest.mark.parametrize("command", ["locate", "chat"])
def test_offline_with_a_hosted_model_is_refused_before_the_models_load(tmp_path, command,
                                                                        text_named_jpg):
    where = [str(text_named_jpg)] if command == "locate" else ["--db", str(tmp_path / "t.sqlite")]
    result, err = run([command, *where, "--offline", "--llm", "google_genai:gemini-2.5-flash"],
                      tmp_path)
    assert result["code"] == 2 and "forbids the hosted model" in err
    assert result["heavy"] == []
