"""The model's requests per second, held across every worker that shares one online store.

A LangChain callback, passed in the run's config, so that it reaches the chat model inside the
graph without touching the policy: before each model request it waits for the model's slot in
the store (:meth:`~sinoloc.tools.online.store.OnlineStore.wait_turn`: one SQLite file on one
machine, :class:`~sinoloc.tools.online.ray_store.RayStore` on a Ray cluster), and a rate-limit
error from the provider pushes the next slot back for every worker (the policy still waits for
its own retry-after, so the one that got the 429 does not hammer the provider either).
"""

from __future__ import annotations

from langchain_core.callbacks import BaseCallbackHandler

RATE_LIMIT_BACKOFF_S = 10.0  # a 429 without a retry-after holds every worker back this long


class ModelRateLimit(BaseCallbackHandler):
    """``config={"callbacks": [ModelRateLimit(store, "model:NAME", 5.0)]}``."""

    raise_error = True  # a store that cannot be reached stops the request, never skips the wait

    def __init__(self, store, key: str, requests_per_s: float):
        if requests_per_s <= 0:
            raise ValueError("requests per second must be positive")
        self.store = store
        self.key = key
        self.interval_s = 1.0 / requests_per_s

    def on_chat_model_start(self, serialized, messages, **kwargs) -> None:
        self.store.wait_turn(self.key, self.interval_s)

    def on_llm_start(self, serialized, prompts, **kwargs) -> None:
        self.store.wait_turn(self.key, self.interval_s)

    def on_llm_error(self, error: BaseException, **kwargs) -> None:
        from sinoloc.agent.llm.failures import FailureKind, classify_error

        failure = classify_error(error)
        if failure.kind is FailureKind.RATE_LIMITED:
            wait = failure.retry_after if failure.retry_after is not None \
                else RATE_LIMIT_BACKOFF_S
            self.store.penalise(self.key, max(wait, self.interval_s))
