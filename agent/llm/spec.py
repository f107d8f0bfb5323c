"""``--llm`` specifications and the one place that turns them into chat models.

Forms: ``none`` (the deterministic policy), ``local:/path/to/qwen-vl[+/path/to/lora]`` (the
in-process transformers backend) and ``provider:model`` for anything ``init_chat_model`` knows
(``google_genai:gemini-2.5-flash``, ``ollama:qwen2.5vl:7b``, ``openai:qwen2.5-vl-7b`` with a
``base_url`` for vLLM and other OpenAI-compatible servers), and ``python:package.module:name``
for a chat model your own code builds (``name`` is a model object or a factory called with no
arguments), so any LangChain chat model can drive the CLI.

``python:`` and ``local:`` run code or read files on this machine: they are for the operator
(``--llm``, ``SINOLOC_LLM`` read by :class:`~sinoloc.agent.settings.Environment`), never for a
served graph's clients, whose ``configurable.llm`` goes through :func:`parse_client_spec` (an
allow-list of providers, a plain model name).
"""

from __future__ import annotations

import os
import re

from pydantic import BaseModel, Field

DEFAULT_TIMEOUT_S = 60.0  # one model call (--model-timeout); the one place this default is written
OPERATOR_ONLY = frozenset({"python", "local"})  # import code / read model files on the server
_NONE_WORDS = ("", "none", "off", "deterministic")
_CLIENT_MODEL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/@+-]{0,127}$")


class LlmSpecError(ValueError):
    """An ``--llm`` value that cannot be understood, or a backend that cannot be built."""


class LlmSpec(BaseModel):
    provider: str = Field(description="none | local | an init_chat_model provider")
    model: str = ""
    lora: str | None = None
    base_url: str | None = None
    temperature: float = 0.0
    timeout_s: float = Field(default=DEFAULT_TIMEOUT_S, gt=0,
                             description="per-call timeout (--model-timeout)")
    max_tokens: int | None = Field(default=None, ge=1, description="cap on generated tokens")

    @property
    def is_none(self) -> bool:
        return self.provider == "none"

    @property
    def label(self) -> str:
        if self.is_none:
            return "deterministic"
        if self.provider == "local":
            name = os.path.basename(self.model.rstrip("/")) or self.model
            return f"local:{name}" + ("+lora" if self.lora else "")
        return f"{self.provider}:{self.model}"

    @classmethod
    def parse(cls, text: str | None, base_url: str | None = None, **options) -> LlmSpec:
        """Parse an ``--llm`` value (``None``: ``none``, the deterministic policy; the
        environment's ``SINOLOC_LLM`` is read at the edge, :class:`~sinoloc.agent.settings.Environment`)."""
        text = (text if text is not None else "none").strip()
        base_url = base_url or None
        if text.lower() in _NONE_WORDS:
            return cls(provider="none", **options)
        provider, sep, rest = text.partition(":")
        if not sep or not rest or not provider:
            raise LlmSpecError(
                f"--llm {text!r}: expected none, local:/path/to/model[+/path/to/lora] or "
                "provider:model (e.g. google_genai:gemini-2.5-flash)")
        provider = provider.strip().lower()
        if provider == "local":
            model, _, lora = rest.partition("+")
            return cls(provider="local", model=model, lora=lora or None, base_url=base_url,
                       **options)
        return cls(provider=provider, model=rest, base_url=base_url, **options)


def environment_spec(env, llm: str | None = None, base_url: str | None = None,
                     **options) -> LlmSpec:
    """The model spec: ``llm`` / ``base_url`` as given, else those of ``env`` (an
    :class:`~sinoloc.agent.settings.Environment`, read at the edge); ``none`` is the
    deterministic policy."""
    return LlmSpec.parse(llm if llm is not None else (env.llm or "none"), base_url or env.base_url,
                         **options)


def parse_client_spec(text: str, allowed_providers: frozenset[str]) -> LlmSpec:
    """A model spec sent by an untrusted client: ``none`` or ``provider:model`` with the
    provider on ``allowed_providers`` (never ``python:`` or ``local:``) and a plain model name.
    The refusal names only what the client sent and what it may send."""
    if not isinstance(text, str):
        raise LlmSpecError("llm: expected a string such as none or provider:model")
    text = text.strip()
    if text.lower() in _NONE_WORDS:
        return LlmSpec(provider="none")
    provider, _, model = text.partition(":")
    provider = provider.strip().lower()
    allowed = sorted(allowed_providers - OPERATOR_ONLY)
    offer = "none" + "".join(f", {p}:MODEL" for p in allowed)
    if provider in OPERATOR_ONLY or provider not in allowed:
        shown = provider if re.fullmatch(r"[a-z0-9_]{1,32}", provider) else "this provider"
        raise LlmSpecError(f"llm: {shown} models are not available to clients of this server; "
                           f"it accepts {offer}")
    if not _CLIENT_MODEL.match(model):
        raise LlmSpecError(f"llm: a model name is letters, digits and . _ : / @ + - "
                           f"(at most 128); this server accepts {offer}")
    return LlmSpec.parse(f"{provider}:{model}")


def load_chat_model(spec: LlmSpec):
    """The chat model for ``spec`` (``None`` for the deterministic policy)."""
    if spec.is_none:
        return None
    if spec.provider == "python":
        return _python_model(spec.model)
    if spec.provider == "local":
        from sinoloc.agent.llm.qwen_local import QwenVLChatModel

        extra = {"max_new_tokens": spec.max_tokens} if spec.max_tokens else {}
        return QwenVLChatModel.from_path(spec.model, lora_path=spec.lora,
                                         temperature=spec.temperature, **extra)
    try:
        from langchain.chat_models import init_chat_model
    except ImportError as exc:  # pragma: no cover - langchain is a dependency
        raise LlmSpecError("the `langchain` package is needed for provider models") from exc
    kwargs: dict = {"temperature": spec.temperature, "timeout": spec.timeout_s,
                    "max_retries": 0}  # sinoloc retries itself, honouring retry-after
    if spec.provider == "ollama":  # ChatOllama drops ``timeout``: its httpx client takes it
        kwargs["client_kwargs"] = {"timeout": spec.timeout_s}
    if spec.base_url:
        kwargs["base_url"] = spec.base_url
    if spec.max_tokens:
        kwargs["max_tokens"] = spec.max_tokens
    try:
        return init_chat_model(spec.model, model_provider=spec.provider, **kwargs)
    except ImportError as exc:
        raise LlmSpecError(f"--llm {spec.provider}:{spec.model} needs the provider package: "
                           f"{exc}. Install it, e.g. pip install '.[llm]' in the sinoloc clone") from exc
    except Exception as exc:  # unknown provider, missing key, bad option
        raise LlmSpecError(f"--llm {spec.provider}:{spec.model}: {_reason(exc)}") from exc


def _reason(exc: Exception) -> str:
    """One line for an SDK's refusal to build a model: pydantic's first error message, not its
    multi-line dump (which also prints the input, keys included), scrubbed of secrets."""
    from pydantic import ValidationError

    from sinoloc.tools.secrets import scrub_secrets

    if isinstance(exc, ValidationError) and exc.errors():
        text = exc.errors()[0].get("msg", "") or exc.__class__.__name__
    else:
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__
    return scrub_secrets(text.removeprefix("Value error, "))


def _python_model(target: str):
    """``package.module:name``: a chat model object, or a factory returning one."""
    import importlib

    from langchain_core.language_models import BaseChatModel

    module_name, _, attr = target.partition(":")
    if not module_name or not attr:
        raise LlmSpecError(f"--llm python:{target}: expected python:package.module:name")
    try:
        found = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise LlmSpecError(f"--llm python:{target}: {exc}") from exc
    model = found if isinstance(found, BaseChatModel) else found()
    if not isinstance(model, BaseChatModel):
        raise LlmSpecError(f"--llm python:{target} gave a {type(model).__name__}, not a "
                           "LangChain chat model")
    return model
