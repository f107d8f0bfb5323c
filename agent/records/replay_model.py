"""The model a replay runs with: it holds no weights and reaches no server. Every call the
graph makes to it is answered from the record by :func:`~.session.model_exchange` before it gets
here; a call that does reach it is a request the record lacks, outside any replay session."""

from __future__ import annotations

from typing import Any

from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.outputs import ChatResult

from sinoloc.agent.records.reader import Record


class ReplayChatModel(BaseChatModel):
    """Stands in the model slot of a replayed run (named as the recorded backend)."""

    label: str = "replay"

    @property
    def _llm_type(self) -> str:
        return "sinoloc-replay"

    def bind_tools(self, tools, **kwargs: Any):
        return self  # the tools offered are part of each recorded request's key

    def _generate(self, messages, stop=None, run_manager=None, **kwargs) -> ChatResult:
        raise RuntimeError("a replayed run has no live model: this request is not in the record "
                           "(replay it inside a replay session, or pass --replay-miss live with "
                           "--llm)")


def replay_policy(record: Record, live_policy=None):
    """The policy of a replay: the recorded backend's name over :class:`ReplayChatModel` (the
    deterministic policy when the record was made with it); ``live_policy``, a real model of the
    same backend for ``--replay-miss live``, is used as it is."""
    from sinoloc.agent.policies import DeterministicPolicy
    from sinoloc.agent.policies.model import ChatModelPolicy

    backend = record.manifest.backend or "deterministic"
    if live_policy is not None:
        if getattr(live_policy, "name", None) != backend:
            raise ValueError(f"the record was made with {backend}; the live model is "
                             f"{getattr(live_policy, 'name', '?')}")
        return live_policy
    if backend == DeterministicPolicy.name:
        return DeterministicPolicy()
    return ChatModelPolicy(ReplayChatModel(label=backend), backend)


__all__ = ["ReplayChatModel", "replay_policy"]
