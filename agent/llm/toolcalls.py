"""Parse ``<tool_call>{"name": ..., "arguments": {...}}</tool_call>`` blocks (the Qwen / Hermes
format) out of generated text into LangChain tool calls."""

from __future__ import annotations

import json
import re
import uuid

from langchain_core.messages.tool import InvalidToolCall, ToolCall

_BLOCK = re.compile(r"<tool_call>\s*(.*?)\s*(?:</tool_call>|$)", re.DOTALL)
_FENCE = re.compile(r"^```(?:json)?\s*|\s*```$")


def _call_id() -> str:
    return f"call_{uuid.uuid4().hex[:12]}"


def parse_tool_calls(text: str) -> tuple[str, list[ToolCall], list[InvalidToolCall]]:
    """Split generated text into (prose, valid calls, malformed calls).

    A block whose JSON does not parse, has no ``name``, or whose arguments are not an object
    becomes an ``InvalidToolCall`` with the reason, so the agent can be told what to fix.
    An unterminated block at the end of the text (generation cut off) is parsed if it is
    complete JSON, else reported as malformed.
    """
    calls: list[ToolCall] = []
    invalid: list[InvalidToolCall] = []
    for match in _BLOCK.finditer(text):
        raw = _FENCE.sub("", match.group(1).strip())
        error = None
        try:
            payload = json.loads(raw)
        except json.JSONDecodeError as exc:
            payload, error = None, f"not valid JSON ({exc.msg} at character {exc.pos})"
        name, args = None, None
        if isinstance(payload, dict):
            name = payload.get("name")
            args = payload.get("arguments", payload.get("parameters", {}))
            if isinstance(args, str):
                try:
                    args = json.loads(args) if args.strip() else {}
                except json.JSONDecodeError:
                    error = "arguments is a string that is not JSON"
            if not isinstance(name, str) or not name:
                error = error or "no tool name"
            elif not isinstance(args, dict):
                error = error or "arguments must be a JSON object"
        elif error is None:
            error = "a tool call must be a JSON object with name and arguments"
        if error is None:
            calls.append(ToolCall(name=name, args=args, id=_call_id(), type="tool_call"))
        else:
            invalid.append(InvalidToolCall(name=name if isinstance(name, str) else None,
                                           args=raw, id=_call_id(), error=error,
                                           type="invalid_tool_call"))
    prose = _BLOCK.sub("", text).strip()
    return prose, calls, invalid
