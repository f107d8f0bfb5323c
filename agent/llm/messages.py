"""What a chat model is sent, and what of its reply the state keeps.

The state holds text only (JSON-serialisable, checkpointer-ready); the image is attached to the
first human message at call time as a standard LangChain image content block.
"""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Mapping
from enum import Enum
from functools import lru_cache
from typing import Any

from langchain_core.messages import AIMessage, AnyMessage, HumanMessage, SystemMessage, ToolMessage

from sinoloc.prompts import load_prompt
from sinoloc.tools.images import run_image

MODEL_IMAGE_MAX_SIDE = 2048  # equirectangular panoramas keep 2048×1024; photos stay sharp


@lru_cache(maxsize=8)
def image_block(path: str, sha256: str, max_side: int = MODEL_IMAGE_MAX_SIDE) -> dict:
    """A base64 JPEG content block of the image (``sha256`` keys the cache on content)."""
    image = run_image(path, sha256).image
    if max(image.size) > max_side:
        scale = max_side / max(image.size)
        image = image.resize((round(image.width * scale), round(image.height * scale)))
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format="JPEG", quality=90)
    return {"type": "image", "base64": base64.b64encode(buffer.getvalue()).decode("ascii"),
            "mime_type": "image/jpeg"}


def model_input(state: Mapping[str, Any], with_image: bool = True) -> list[AnyMessage]:
    """System prompt, then the conversation with the image attached to its first human turn,
    and the images tools returned (``map_view``) shown right after their tool results."""
    messages: list[AnyMessage] = [SystemMessage(content=load_prompt("system"))]
    attached = not with_image
    shown: list[dict] = []  # images of the tool results just read, for the next human turn
    for message in state.get("messages", []):
        if shown and not isinstance(message, ToolMessage):
            messages.append(tool_images_message(shown))
            shown = []
        if not attached and isinstance(message, HumanMessage):
            image = state.get("image", {})
            block = image_block(state["request"]["image_path"], image.get("sha256", ""))
            message = HumanMessage(content=[{"type": "text", "text": message.text}, block])
            attached = True
        if with_image and isinstance(message, ToolMessage):
            shown += (message.artifact or {}).get("images", []) \
                if isinstance(message.artifact, dict) else []
        messages.append(message)
    if shown:
        messages.append(tool_images_message(shown))
    return messages


def tool_images_message(images: list[dict]) -> HumanMessage:
    """The images tool calls returned, as one human turn (every chat API takes images there;
    not every one takes them in a tool result). Files that are gone are said to be gone."""
    content: list[str | dict] = [{"type": "text", "text": "The images the tools returned:"}]
    for image in images:
        caption = str(image.get("caption") or "an image a tool returned")
        try:
            block = image_block(str(image["path"]), str(image.get("sha256", "")))
        except Exception:  # the image cache was cleared since: the model is told, not crashed
            content.append({"type": "text", "text": f"({caption}: no longer available)"})
            continue
        content += [{"type": "text", "text": caption}, block]
    return HumanMessage(content=content)


def json_safe(value):
    """A JSON-serialisable copy: enums become their values, other objects their text."""
    if isinstance(value, Enum):
        return json_safe(value.value)
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return str(value)
    return value


def for_state(reply: AIMessage) -> AIMessage:
    """The reply as the state keeps it: content, tool calls, usage; metadata made JSON-safe.
    No ``name``: the conversation is re-sent to the model, and OpenAI-compatible APIs accept
    only ``^[a-zA-Z0-9_-]+$`` there (a backend label has ``:`` and ``/``); the backend that
    answered is in the state's ``backend``."""
    return AIMessage(content=json_safe(reply.content), tool_calls=reply.tool_calls,
                     usage_metadata=reply.usage_metadata, id=reply.id,
                     response_metadata=json_safe(reply.response_metadata or {}),
                     additional_kwargs=json_safe(reply.additional_kwargs or {}))
