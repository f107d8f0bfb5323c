"""What one model call sends: image bytes, prompt characters and tool-definition characters per
call, for a 2048×1024 panorama and a 1200×800 photo.

    python -m sinoloc.benchmarks.model_requests [--calls 3]

The graph runs for real (prelude, tools, verify) with a recording chat model in the policy slot
that reads the clues and then submits; each call's messages and bound tools are measured as the
chat model receives them (the SDKs add their own envelope: base64 makes the image 4/3 larger on
the wire, which ``image_base64_chars`` shows). Images are procedural street-like scenes, not
noise (noise would not compress like a photo).
"""

from __future__ import annotations

import argparse
import base64
import json
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from pydantic import ConfigDict, Field

from sinoloc.benchmarks.probe_render import procedural_background


class _Recorder(BaseChatModel):
    """Calls ``lookup_clues`` first, then submits; records every call's size."""

    model_config = ConfigDict(arbitrary_types_allowed=True)
    calls: list[dict] = Field(default_factory=list)
    tools: list[dict] = Field(default_factory=list)

    @property
    def _llm_type(self) -> str:
        return "recorder"

    def bind_tools(self, tools, **kwargs):
        self.tools = list(tools)
        return self

    def _generate(self, messages, stop=None, run_manager=None, **kwargs: Any) -> ChatResult:
        image_bytes = image_chars = prompt_chars = 0
        for message in messages:
            parts = message.content if isinstance(message.content, list) else [message.content]
            for part in parts:
                if isinstance(part, dict) and part.get("type") == "image":
                    image_chars += len(part["base64"])
                    image_bytes += len(base64.b64decode(part["base64"]))
                else:
                    prompt_chars += len(part if isinstance(part, str) else json.dumps(
                        part, ensure_ascii=False))
            for call in getattr(message, "tool_calls", None) or []:
                prompt_chars += len(json.dumps(call["args"], ensure_ascii=False))
        self.calls.append({"messages": len(messages), "image_bytes": image_bytes,
                           "image_base64_chars": image_chars, "prompt_chars": prompt_chars,
                           "tools_chars": len(json.dumps(self.tools, ensure_ascii=False))})
        if len(self.calls) == 1:
            call = {"name": "lookup_clues", "args": {"text": "杭州市西湖区文三路138号"}, "id": "c1"}
        else:
            call = {"name": "submit_answer", "args": {
                "province": "浙江省", "city": "杭州市", "district": "西湖区", "lat": 30.2741,
                "lon": 120.1305}, "id": f"c{len(self.calls)}"}
        return ChatResult(generations=[ChatGeneration(message=AIMessage(
            content="", tool_calls=[{**call, "type": "tool_call"}]))])


def measure(image: Path, calls: int) -> list[dict]:
    from sinoloc.agent.api import Geolocator

    model = _Recorder()
    Geolocator(chat_model=model).locate(image, max_model_calls=calls, offline=True)
    return model.calls


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=3, help="model calls per run (budget)")
    args = parser.parse_args(argv)
    rng = np.random.default_rng(0)
    out = {}
    with tempfile.TemporaryDirectory() as folder:
        for name, size in (("panorama_2048x1024", (2048, 1024)), ("photo_1200x800", (1200, 800))):
            path = Path(folder) / f"{name}.jpg"
            procedural_background(rng, *size).convert("RGB").save(path, quality=90)
            out[name] = {"file_bytes": path.stat().st_size, "calls": measure(path, args.calls)}
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
