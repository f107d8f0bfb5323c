"""Language-model backends for the policy slot: any LangChain chat model through
``init_chat_model``, or an in-process Qwen-VL on transformers (``local:``). The policy around a
model is built by :func:`sinoloc.agent.policies.build_policy`."""

from __future__ import annotations

import contextlib

from sinoloc.agent.llm.failures import BackendFailure, FailureKind
from sinoloc.agent.llm.spec import LlmSpec, LlmSpecError, load_chat_model


def chat_model_label(chat_model) -> str:
    """``provider:model`` for a chat model given directly, as LangChain's tracing names it
    (``google_genai:gemini-2.5-flash``), so that it is priced like the same ``--llm``; a model
    that does not say gets ``chat_model:NAME`` (no price, rather than a guess)."""
    params: dict = {}
    with contextlib.suppress(Exception):  # a custom model whose tracing parameters need more
        params = chat_model._get_ls_params() or {}
    name = params.get("ls_model_name") or getattr(chat_model, "model_name", None) \
        or getattr(chat_model, "model", None)
    provider = params.get("ls_provider")
    if isinstance(name, str):
        name = name.removeprefix("models/")  # Gemini's resource name
    if provider and name:
        return f"{provider}:{name}"
    return f"chat_model:{name or type(chat_model).__name__}"


__all__ = [
    "BackendFailure",
    "FailureKind",
    "LlmSpec",
    "LlmSpecError",
    "chat_model_label",
    "load_chat_model",
]
