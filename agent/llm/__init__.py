"""Language-model backends for the policy slot: any LangChain chat model through
``init_chat_model``, or an in-process Qwen-VL on transformers (``local:``)."""

from __future__ import annotations

from .failures import BackendFailure, FailureKind
from .spec import LlmSpec, LlmSpecError, load_chat_model


def build_policy(llm: str | LlmSpec | None = None, base_url: str | None = None,
                 max_tokens: int | None = None, **options):
    """The policy for an ``--llm`` value (``None`` reads ``SINOLOC_LLM``): the deterministic
    policy for ``none``, else a :class:`ChatModelPolicy` around the chat model."""
    from ..policy import DeterministicPolicy
    from .policy import ChatModelPolicy

    spec = llm if isinstance(llm, LlmSpec) else LlmSpec.parse(llm, base_url,
                                                              max_tokens=max_tokens)
    if spec.is_none:
        return DeterministicPolicy()
    return ChatModelPolicy(load_chat_model(spec), spec.label, **options)


__all__ = ["BackendFailure", "FailureKind", "LlmSpec", "LlmSpecError", "build_policy",
           "load_chat_model"]
