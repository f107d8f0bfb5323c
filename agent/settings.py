"""How a run is configured, in one place: the settings every way in shares (the CLI, the Python
API, ``configurable`` and the graph's context in LangGraph Studio, eval runs), their defaults and
bounds, how a request's own fields combine with configured defaults, and the offline rule.

Settings come from, lowest first: the field defaults below, the runnable config's
``configurable`` (or the graph's runtime ``context``), then the request's own fields. The CLI's
options take their defaults, bounds and help from these fields (:func:`field_default`,
:func:`field_help`, :func:`bounded`), so they cannot drift apart.

The offline rule: under ``--offline`` (a request's ``offline``, the CLI flag,
``configurable["offline"]``, or ``SINOLOC_OFFLINE=1``) no tool makes a network call and no hosted
model is asked. The tools honour it through their request and configuration
(``toolbox.online.services``); the policy is checked here, by every way in: the CLI and eval
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

import os
from collections.abc import Mapping
from typing import Any, Literal
from urllib.parse import urlparse

from pydantic import BaseModel, Field

from sinoloc.tools.online.config import ENV_OFFLINE, ConfigError, get_config
from sinoloc.tools.privacy import is_loopback_host

OCR_BACKENDS = ("rapidocr", "paddleocr")  # the choices of --ocr / ocr_backend


class LocateSettings(BaseModel):
    """How images are located: ``Geolocator(settings=...)``, the runnable config's
    ``configurable`` or the fields of a request (a request's own fields win)."""

    ignore_exif: bool = Field(default=False, description="do not use the image's EXIF GPS")
    top_k: int = Field(default=10, ge=1, le=50, description="candidate districts to list")
    ocr_backend: str = Field(default="rapidocr", description="OCR backend: rapidocr or paddleocr")
    max_verify_rounds: int = Field(default=3, ge=1, le=10, description=(
        "times a submitted answer may be sent back before the fused answer is committed"))
    max_model_calls: int = Field(default=12, ge=1, le=100, description="model-call budget per image")
    max_tool_calls: int = Field(default=24, ge=3, le=200, description="tool-call budget per image")
    max_seconds: float = Field(default=300.0, gt=0, allow_inf_nan=False, description=(
        "wall-time budget per image (the agent then answers from what it has)"))
    disabled_tools: list[str] = Field(default_factory=list, description=(
        "tools answered 'unavailable' for this run (ablations and baselines)"))
    verify: bool = Field(default=True, description="False accepts the first submitted answer")
    offline: bool = Field(default=False, description=(
        "forbid every network call of the tools (geocoders, web search)"))
    adaptive_budget: bool = Field(default=True, description=(
        "scale the model-call budget by the image's locatability (40–100 %, at least 3)"))
    prior: str | None = Field(default=None, description=(
        "visual prior checkpoint directory (default $SINOLOC_PRIOR_CHECKPOINT; none: no prior)"))
    review: bool = Field(default=False, description=(
        "stop before commit for a person to approve, edit, reject or add a clue (LangGraph "
        "interrupt; needs a checkpointer: a thread)"))
    samples: int = Field(default=1, ge=1, le=8, description=(
        "trajectories of a model policy run concurrently on each image, one answer selected "
        "from them; they share the image's budgets (never multiplied)"))
    sample_selector: Literal["evidence", "verifier"] = Field(default="evidence", description=(
        "how the answer is picked among the trajectories: the one the pooled evidence of all "
        "trajectories supports best, or a verifier model call that reads every candidate"))


class LocateRequest(LocateSettings):
    """One image to locate, with its settings."""

    image_path: str = Field(description=(
        "the image: a local file path, or a data: URI / base64 string (stored in the image "
        "cache by content hash before the graph reads it)"))


def field_default(name: str) -> Any:
    """The default of a setting, for the CLI's options and the eval configuration."""
    field = LocateSettings.model_fields[name]
    return field.get_default(call_default_factory=True)


def field_help(name: str) -> str:
    """A setting's description, for the CLI's help."""
    return LocateSettings.model_fields[name].description or ""


def field_bounds(name: str) -> tuple[float | None, float | None]:
    """A setting's numeric bounds (inclusive low, inclusive high; None where open)."""
    low = high = None
    for rule in LocateSettings.model_fields[name].metadata:
        for attr in ("ge", "gt"):
            low = low if getattr(rule, attr, None) is None else getattr(rule, attr)
        high = high if getattr(rule, "le", None) is None else rule.le
    return low, high


def bounded(name: str):
    """An argparse ``type`` for a numeric setting: converts and checks the setting's bounds,
    so ``--top-k 0`` is refused with the same limits the model enforces."""
    import argparse

    kind = LocateSettings.model_fields[name].annotation
    convert = int if kind is int else float
    low, high = field_bounds(name)

    def parse(text: str):
        try:
            value = convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if (low is not None and value < low) or (high is not None and value > high):
            span = f"between {low:g} and {high:g}" if low is not None and high is not None \
                else f"at least {low:g}" if low is not None else f"at most {high:g}"
            raise argparse.ArgumentTypeError(f"must be {span} (got {text})")
        return value

    parse.__name__ = convert.__name__  # argparse names the type in its messages
    return parse


def request_fields(request: Any) -> dict[str, Any]:
    """The fields a request gives itself (a :class:`LocateRequest` or a dict)."""
    return request.model_dump(exclude_unset=True) if isinstance(request, LocateRequest) \
        else dict(request or {})


def configured_defaults(configurable: dict | None = None,
                        context: LocateSettings | dict | None = None) -> dict[str, Any]:
    """Configured defaults: the graph's runtime ``context`` under the runnable config's
    ``configurable`` (both optional; other keys, such as ``thread_id``, are kept)."""
    if isinstance(context, LocateSettings):
        context = context.model_dump(exclude_unset=True)
    return {**(context or {}), **(configurable or {})}


def resolve_request(request: Any, configurable: dict | None = None,
                    context: LocateSettings | dict | None = None) -> LocateRequest:
    """The request: its own fields win over ``configurable`` and the graph's runtime
    ``context`` (which win over the defaults)."""
    defaults = {k: v for k, v in configured_defaults(configurable, context).items()
                if k in LocateRequest.model_fields}
    return LocateRequest.model_validate({**defaults, **request_fields(request)})


ENV_LLM = "SINOLOC_LLM"
ENV_BASE_URL = "SINOLOC_LLM_BASE_URL"
ENV_OCR = "SINOLOC_OCR"


class Environment(BaseModel):
    """The locator's choices the environment makes (``SINOLOC_LLM``, ``SINOLOC_LLM_BASE_URL``,
    ``SINOLOC_OCR``), read once at the edge (the CLI, eval, ``Geolocator()`` and ``build_graph()``,
    the served graph's entry) by :meth:`read` and passed on explicitly from there. This module is
    the only one that reads these variables."""

    llm: str | None = Field(default=None, description="the --llm spec, when SINOLOC_LLM names one")
    base_url: str | None = Field(default=None, description="an OpenAI-compatible server's URL")
    ocr_backend: str = Field(default_factory=lambda: field_default("ocr_backend"))

    @classmethod
    def read(cls, environ: Mapping[str, str] | None = None) -> Environment:
        env = os.environ if environ is None else environ
        fields: dict[str, Any] = {"llm": env.get(ENV_LLM) or None, "base_url": env.get(ENV_BASE_URL) or None}
        if env.get(ENV_OCR):
            fields["ocr_backend"] = env[ENV_OCR]
        return cls(**fields)


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


__all__ = [
    "ENV_BASE_URL",
    "ENV_LLM",
    "ENV_OCR",
    "ENV_OFFLINE",
    "OCR_BACKENDS",
    "Environment",
    "LocateRequest",
    "LocateSettings",
    "OfflineViolation",
    "bounded",
    "check_policy",
    "check_spec",
    "configured_offline",
    "field_bounds",
    "field_default",
    "field_help",
    "is_loopback",
    "is_offline",
    "model_stays_local",
    "policy_stays_local",
    "resolve_request",
    "spec_stays_local",
]
