"""Who fills the policy slot: the deterministic offline order (``deterministic``) or a
language model through LangChain (``model``); the model clients themselves are in
:mod:`sinoloc.agent.llm`. :func:`build_policy` is the one place a policy is built, for every
way in (the CLI, ``Geolocator``, ``build_graph``, ``langgraph.json``'s entry, ``configurable``,
eval runs, batch workers)."""

from __future__ import annotations

from functools import lru_cache

from sinoloc.agent.policies.deterministic import DeterministicPolicy, Policy, PolicyTurn


def build_policy(llm=None, *, policy: Policy | None = None, chat_model=None,
                 base_url: str | None = None, max_tokens: int | None = None,
                 **options) -> Policy:
    """The policy from at most one of: a ``policy`` (used as it is), a LangChain
    ``chat_model``, or ``llm`` (an ``--llm`` spec string or a parsed ``LlmSpec``; None and
    ``none`` are the deterministic policy). ``options`` go to the model policy."""
    if sum(x is not None for x in (policy, llm, chat_model)) > 1:
        raise ValueError("give at most one of policy, llm and chat_model")
    if policy is not None:
        return policy
    from sinoloc.agent.llm import LlmSpec, chat_model_label, load_chat_model
    from sinoloc.agent.policies.model import ChatModelPolicy

    if chat_model is not None:
        return ChatModelPolicy(chat_model, chat_model_label(chat_model), **options)
    spec = llm if isinstance(llm, LlmSpec) else LlmSpec.parse(llm, base_url,
                                                              max_tokens=max_tokens)
    if spec.is_none:
        return DeterministicPolicy()
    return ChatModelPolicy(load_chat_model(spec), spec.label, timeout_s=spec.timeout_s,
                           **options)


@lru_cache(maxsize=4)
def configured_policy(spec: str, base_url: str | None = None) -> Policy:
    """The policy a run's ``configurable["llm"]`` names (built once per process, spec and
    server address)."""
    return build_policy(spec, base_url=base_url)


__all__ = ["DeterministicPolicy", "Policy", "PolicyTurn", "build_policy", "configured_policy"]
