"""Language-model backends for the policy slot: any LangChain chat model through
``init_chat_model``, or an in-process Qwen-VL on transformers (``local:``)."""

from __future__ import annotations

import contextlib

from sinoloc.agent.llm.failures import BackendFailure, FailureKind
from sinoloc.agent.llm.spec import LlmSpec, LlmSpecError, load_chat_model


def build_policy(llm: str | LlmSpec | None = None, base_url: str | None = None,
                 max_tokens: int | None = None, **options):
    """The policy for an ``--llm`` value (``None`` reads ``SINOLOC_LLM``): the deterministic
    policy for ``none``, else a :class:`ChatModelPolicy` around the chat model."""
    from sinoloc.agent.policies.deterministic import DeterministicPolicy
    from sinoloc.agent.policies.model import ChatModelPolicy

    spec = llm if isinstance(llm, LlmSpec) else LlmSpec.parse(llm, base_url,
                                                              max_tokens=max_tokens)
    if spec.is_none:
        return DeterministicPolicy()
    return ChatModelPolicy(load_chat_model(spec), spec.label, timeout_s=spec.timeout_s,
                           **options)


def chat_model_label(chat_model) -> str:
    """``provider:model`` for a chat model given directly, as LangChain's tracing names it
    (``google_genai:gemini-2.5-flash``), so that it is priced like the same ``--llm``; a model
    that does not say gets ``chat_model:NAME`` (no price, rather than a guess)."""
    params = {}
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


def policy_for(policy=None, llm: str | None = None, chat_model=None,
               base_url: str | None = None):
    """The policy from exactly one of a policy, an ``--llm`` spec or a LangChain chat model
    (None: the deterministic offline policy)."""
    if sum(x is not None for x in (policy, llm, chat_model)) > 1:
        raise ValueError("give at most one of policy, llm and chat_model")
    if chat_model is not None:
        from sinoloc.agent.policies.model import ChatModelPolicy

        return ChatModelPolicy(chat_model, chat_model_label(chat_model))
    if llm is not None:
        return build_policy(llm, base_url)
    return policy


__all__ = [
    "BackendFailure",
    "FailureKind",
    "LlmSpec",
    "LlmSpecError",
    "build_policy",
    "chat_model_label",
    "load_chat_model",
    "policy_for",
]
