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


def _read_block(raw: str) -> tuple[object, object, str | None]:
    """One block's (name, arguments, what is wrong or None)."""
    try:
        payload = json.loads(raw)
    except json.JSONDecodeError as exc:
        return None, None, f"not valid JSON ({exc.msg} at character {exc.pos})"
    if not isinstance(payload, dict):
        return None, None, "a tool call must be a JSON object with name and arguments"
    error = None
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
    return name, args, error


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
        name, args, error = _read_block(raw)
        if error is None and isinstance(name, str) and isinstance(args, dict):
            calls.append(ToolCall(name=name, args=args, id=_call_id(), type="tool_call"))
        else:
            invalid.append(InvalidToolCall(name=name if isinstance(name, str) else None,
                                           args=raw, id=_call_id(), error=error,
                                           type="invalid_tool_call"))
    prose = _BLOCK.sub("", text).strip()
    return prose, calls, invalid


_MALFORMED_FINISH = {"MALFORMED_FUNCTION_CALL", "UNEXPECTED_TOOL_CALL"}


def recover_calls(reply):
    """The same malformed call, whatever the server: a reply whose tool calls the server could
    not parse (vLLM's hermes parser and Ollama leave the model's raw ``<tool_call>`` text in the
    content; Gemini answers ``finishReason: MALFORMED_FUNCTION_CALL`` with no parts) becomes a
    reply with those calls, parsed here, or with ``invalid_tool_calls`` saying what is wrong."""
    from langchain_core.messages import AIMessage

    if not isinstance(reply, AIMessage) or reply.tool_calls or reply.invalid_tool_calls:
        return reply
    meta = reply.response_metadata or {}
    finish = str(getattr(meta.get("finish_reason"), "value", meta.get("finish_reason")) or "")
    if finish.upper() in _MALFORMED_FINISH:
        message = meta.get("finish_message") or meta.get("finishMessage") or finish
        unparsed = InvalidToolCall(name=None, args=str(message)[:500], id=_call_id(),
                                   error=f"the API could not parse the tool call ({finish})",
                                   type="invalid_tool_call")
        return reply.model_copy(update={"invalid_tool_calls": [unparsed]})
    text = reply.text or ""
    if "<tool_call>" not in text:
        return reply
    prose, calls, invalid = parse_tool_calls(text)
    return reply.model_copy(update={"content": prose, "tool_calls": calls,
                                    "invalid_tool_calls": invalid})


def from_api_args(reply):
    """Tool-call arguments back in the tools' own form: fields offered as lists of key/value
    pairs (an API cannot take a free-form object; see ``toolbox.api_schema``) become dicts."""
    from sinoloc.agent.toolbox.definitions import from_api_arguments

    if not getattr(reply, "tool_calls", None):
        return reply
    calls = [{**c, "args": from_api_arguments(c["name"], c.get("args") or {})}
             for c in reply.tool_calls]
    return reply.model_copy(update={"tool_calls": calls})
