"""A trajectory's own sampling of the model: the policy with the model at the trajectory's
temperature (:data:`~sinoloc.agent.samples.plan.TEMPERATURES`). Trajectory 1, the
deterministic policy and a model without a ``temperature`` setting keep the policy as it is."""

from __future__ import annotations

import copy
import threading
from collections.abc import Mapping
from typing import Any

_COPIES: dict[tuple[int, float], tuple[Any, Any]] = {}
_LOCK = threading.Lock()
MAX_COPIES = 64


def has_temperature(policy) -> bool:
    """Whether the policy's model has a ``temperature`` setting a trajectory can change."""
    model = getattr(policy, "model", None)
    return model is not None and "temperature" in getattr(type(model), "model_fields", {})


def with_temperature(policy, temperature: float):
    """A copy of a model policy whose model samples at ``temperature`` (the same client, so
    the same connection pool), or the policy itself when its model has no such setting."""
    if not has_temperature(policy):
        return policy
    model = policy.model
    key = (id(policy), temperature)
    with _LOCK:
        if key in _COPIES and _COPIES[key][0] is policy:
            return _COPIES[key][1]
        sampled = copy.copy(policy)
        sampled.model = model.model_copy(update={"temperature": temperature})
        sampled._bound = {}  # tools are bound to the copied model on first use
        if len(_COPIES) >= MAX_COPIES:
            _COPIES.clear()
        _COPIES[key] = (policy, sampled)  # the original is kept alive: its id stays its own
        return sampled


def for_sample(policy, state: Mapping[str, Any]):
    """The policy a trajectory runs (its ``sample`` in the state; outside a sampled run, the
    policy as it is)."""
    temperature = (state.get("sample") or {}).get("temperature")
    return policy if temperature is None else with_temperature(policy, float(temperature))
