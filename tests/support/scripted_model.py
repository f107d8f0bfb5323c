"""A scripted chat model (the only model double): replays fixed replies, or exceptions, in order
and records what it was sent. Supports ``bind_tools`` like a real provider model."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from pydantic import ConfigDict, Field


def call(name: str, **args) -> dict:
    return {"name": name, "args": args, "id": f"call_{uuid.uuid4().hex[:8]}", "type": "tool_call"}


def reply(*calls: dict, text: str = "", tokens: tuple[int, int] = (1000, 50)) -> AIMessage:
    return AIMessage(content=text, tool_calls=list(calls), usage_metadata={
        "input_tokens": tokens[0], "output_tokens": tokens[1],
        "total_tokens": tokens[0] + tokens[1]})


class ScriptedChatModel(BaseChatModel):
    model_config = ConfigDict(arbitrary_types_allowed=True)

    script: list[Any] = Field(default_factory=list)  # AIMessage | Exception | callable
    received: list[list] = Field(default_factory=list)
    bound_tools: list[dict] = Field(default_factory=list)
    repeat_last: bool = False

    @property
    def _llm_type(self) -> str:
        return "scripted"

    def bind_tools(self, tools, **kwargs):
        self.bound_tools = list(tools)
        return self

    def _generate(self, messages, stop=None, run_manager=None, **kwargs) -> ChatResult:
        self.received.append(list(messages))
        if not self.script:
            raise AssertionError("the script ran out: the graph asked for one turn too many")
        item = self.script[0] if (self.repeat_last and len(self.script) == 1) \
            else self.script.pop(0)
        if isinstance(item, Exception):
            raise item
        if isinstance(item, Callable) and not isinstance(item, AIMessage):
            item = item(messages)
        if isinstance(item, AIMessage) and item.tool_calls:  # fresh ids on every replay
            item = item.model_copy(update={"tool_calls": [
                {**c, "id": f"call_{uuid.uuid4().hex[:8]}"} for c in item.tool_calls]})
        return ChatResult(generations=[ChatGeneration(message=item)])
