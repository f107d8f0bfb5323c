"""What a record keeps of an exchange, and the hash a replay looks it up by.

One normal form serves the recorder and the replayer, so a request hashes alike in both: a model
request is its messages (role, text, tool calls by name and arguments, images by content hash;
no message or call ids, which are random per run), the tools offered and the call's parameters;
a tool request is the tool, its validated arguments, the image's content hash, and a digest of
what earlier calls found (the context the tool reads). Strings are scrubbed of secrets
(:mod:`sinoloc.tools.secrets`) and of absolute paths before anything is hashed or written.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage, ToolMessage, messages_from_dict, messages_to_dict

from sinoloc.tools.secrets import configured_secrets, scrub_value

HASH_CHARS = 32


def canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def content_hash(value: Any) -> str:
    return hashlib.sha256(canonical(value).encode()).hexdigest()[:HASH_CHARS]


class Scrubber:
    """Secrets and absolute paths out of every string of a JSON value (the secrets are read
    once: :func:`configured_secrets` reads the environment and the online config)."""

    def __init__(self, roots: Sequence[tuple[str, str]] = (), secrets: list[str] | None = None):
        self.secrets = configured_secrets() if secrets is None else secrets
        places = [*roots, (tempfile.gettempdir(), "<tmp>"), (str(Path.home()), "~"),
                  (os.getcwd(), ".")]
        places = [(str(p).rstrip("/"), label) for p, label in places if p and len(str(p)) > 1]
        places.sort(key=lambda pair: len(pair[0]), reverse=True)  # the longest root first
        self._paths = re.compile("|".join(re.escape(p) for p, _ in places)) if places else None
        self._labels = dict(places)

    def text(self, text: str) -> str:
        if self._paths is not None and "/" in text:
            text = self._paths.sub(lambda m: self._labels[m.group(0)], text)
        return text

    def __call__(self, value: Any) -> Any:
        value = scrub_value(value, self.secrets)
        return _map_strings(value, self.text)


def _map_strings(value: Any, fn) -> Any:
    if isinstance(value, str):
        return fn(value)
    if isinstance(value, dict):
        return {k: _map_strings(v, fn) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_map_strings(v, fn) for v in value]
    return value


@lru_cache(maxsize=64)
def _bytes_hash(data: str) -> str:
    return hashlib.sha256(data.encode("ascii", "ignore")).hexdigest()


def _image_part(part: dict) -> dict | None:
    """An image content block by the hash of its bytes (base64, a data: URL), else None."""
    if part.get("type") == "image" and isinstance(part.get("base64"), str):
        return {"type": "image", "sha256": _bytes_hash(part["base64"])}
    if part.get("type") == "image_url":
        url = part["image_url"].get("url") if isinstance(part.get("image_url"), dict) \
            else part.get("image_url")
        if isinstance(url, str) and url.startswith("data:"):
            return {"type": "image", "sha256": _bytes_hash(url.partition(",")[2])}
    return None


def _content(content: Any) -> Any:
    if isinstance(content, list):
        return [(_image_part(p) or p) if isinstance(p, dict) else p for p in content]
    return content


def message_form(message: BaseMessage) -> dict:
    """A message as the key sees it: role, content (images by hash), calls without ids."""
    form: dict = {"role": message.type, "content": _content(message.content)}
    if isinstance(message, AIMessage) and message.tool_calls:
        form["tool_calls"] = [{"name": c["name"], "args": c.get("args") or {}}
                              for c in message.tool_calls]
    if isinstance(message, ToolMessage):
        form["name"], form["status"] = message.name, message.status
    return form


def reply_to_json(reply: AIMessage) -> dict:
    return messages_to_dict([reply])[0]


def reply_from_json(data: dict) -> AIMessage:
    message = messages_from_dict([data])[0]
    if not isinstance(message, AIMessage):
        raise ValueError(f"a recorded reply is a {message.type} message, not an AI message")
    return message


__all__ = ["HASH_CHARS", "Scrubber", "canonical", "content_hash", "message_form",
           "reply_from_json", "reply_to_json"]
