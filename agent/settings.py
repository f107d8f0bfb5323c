"""The offline rule, in one place: under ``--offline`` (a request's ``offline``, the CLI flag,
``configurable["offline"]``, or ``SINOLOC_OFFLINE=1``) no tool makes a network call and no hosted
model is asked. The tools honour it through their request and configuration
(``online_tools.services``); the policy is checked here, by every way in: the CLI and eval
before any work (a clear error, exit 2), and the graph's policy node before any model call
(so the Python API, ``build_graph``, ``configurable``, chat and ``langgraph.json``'s entry
refuse alike).

A model "stays local" when its calls cannot leave the machine: the deterministic policy, the
in-process transformers backend, a server on a loopback address, Ollama at its default
(localhost) address, or a chat model class of the user's own (``python:``, ``chat_model=``) that
names no address — that one the user configured. A provider package's model with no address of
its own (Gemini, OpenAI, …) is hosted.
"""

from __future__ import annotations

from urllib.parse import urlparse

from sinoloc.tools.online.config import ENV_OFFLINE, ConfigError, get_config
from sinoloc.tools.privacy import is_loopback_host

# attributes under which LangChain chat models keep the address they send to
_ADDRESS_ATTRS = ("base_url", "openai_api_base", "api_base", "endpoint_url", "endpoint")


class OfflineViolation(ValueError):
    """A hosted model was asked for in an offline run."""


def configured_offline() -> bool:
    """The online configuration says offline (``SINOLOC_OFFLINE`` over the config file's
    ``[online] offline``): the same switch the tools read. A broken configuration file counts
    as offline here: when unsure, nothing is sent."""
    try:
        return get_config().offline
    except ConfigError:
        return True


def is_offline(requested: bool | None = False) -> bool:
    """The run is offline when it asked to be or the configuration says so."""
    return bool(requested) or configured_offline()


def is_loopback(url: str | None) -> bool:
    return bool(url) and is_loopback_host(urlparse(str(url)).hostname)


def model_stays_local(model) -> bool:
    """Whether a LangChain chat model's calls stay on this machine (see the module doc)."""
    for attr in _ADDRESS_ATTRS:
        address = getattr(model, attr, None)
        if isinstance(address, str) and address:
            return is_loopback(address)
    package = type(model).__module__.split(".")[0]
    if package in ("langchain_ollama", "langchain_core"):
        return True  # Ollama's default server is localhost:11434; core's are fakes and wrappers
    return not package.startswith("langchain_")  # a provider package's default is its cloud


def spec_stays_local(spec) -> bool:
    """Whether an ``--llm`` spec's model stays on this machine, judged before it is built (so
    an offline run refuses a hosted model without needing its key): none, ``local:`` and
    ``python:`` (the user's own code; its model is judged again once built), a loopback
    ``base_url``, or Ollama at its default address."""
    if spec.provider in ("none", "local", "python"):
        return True
    if spec.base_url:
        return is_loopback(spec.base_url)
    return spec.provider == "ollama"  # its default server is localhost:11434


def check_spec(spec, offline: bool | None) -> None:
    """Refuse a hosted model's spec in an offline run, before the model is built."""
    if is_offline(offline) and not spec_stays_local(spec):
        raise OfflineViolation(_refusal(spec.label))


def _refusal(name: str) -> str:
    return (f"offline run (--offline / SINOLOC_OFFLINE) forbids the hosted model {name}: use "
            "none, local:DIR, or a model server on this machine (--base-url http://127.0.0.1:…)")


def policy_stays_local(policy) -> bool:
    """The deterministic policy and any policy without a model stay local; a model policy
    stays local when its model does."""
    model = getattr(policy, "model", None)
    return model is None or model_stays_local(model)


def check_policy(policy, offline: bool | None) -> None:
    """Refuse a hosted model in an offline run (raises :class:`OfflineViolation`)."""
    if is_offline(offline) and not policy_stays_local(policy):
        raise OfflineViolation(_refusal(getattr(policy, "name", type(policy).__name__)))


__all__ = ["ENV_OFFLINE", "OfflineViolation", "check_policy", "check_spec", "configured_offline",
           "is_loopback", "is_offline", "model_stays_local", "policy_stays_local",
           "spec_stays_local"]
