"""Keys never echoed: :func:`scrub_secrets` removes credentials from text that came from a
provider before it enters state, warnings, logs, predictions or the chat database.

Providers echo what they were sent: an OpenAI-style 401 says "Incorrect API key provided:
sk-…", an HTTP error repeats the URL with ``key=…`` in it. Two nets catch them: the *values*
of the keys this process is configured with (environment variables whose names say they hold
a secret, and the map keys of the online config), including fragments of them that a provider
masked only partly; and key-*shaped* strings (``sk-…``, ``AIza…``, bearer tokens, long tokens
after ``key=`` / ``token=`` / ``api_key:``), whoever's they are.
"""

from __future__ import annotations

import os
import re

REDACTED = "[REDACTED]"

# variables that hold a model or map provider's key (the online config's KEY_ENV adds its own)
SECRET_ENV = ("GOOGLE_API_KEY", "GEMINI_API_KEY", "OPENAI_API_KEY", "ANTHROPIC_API_KEY",
              "DASHSCOPE_API_KEY", "DEEPSEEK_API_KEY", "MISTRAL_API_KEY", "GROQ_API_KEY",
              "TOGETHER_API_KEY", "FIREWORKS_API_KEY", "OPENROUTER_API_KEY", "XAI_API_KEY",
              "HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HUGGINGFACEHUB_API_TOKEN",
              "AMAP_KEY", "SINOLOC_AMAP_KEY", "BAIDU_MAP_AK", "SINOLOC_BAIDU_AK",
              "TENCENT_MAP_KEY", "SINOLOC_TENCENT_KEY", "TIANDITU_KEY", "SINOLOC_TIANDITU_KEY")
# any other variable named like a secret (…_API_KEY, …_TOKEN, …_SECRET, …_AK, …_PASSWORD)
_SECRET_NAME = re.compile(r"(?:^|_)(?:API_?KEY|KEY|TOKEN|SECRET|AK|PASSWORD|PASSWD)$",
                          re.IGNORECASE)
MIN_SECRET_LEN = 8  # shorter values ("1", "true") would redact ordinary words
MIN_FRAGMENT_LEN = 8  # a partly masked echo ("sk-proj-abcd****wxyz") leaks its visible pieces

_SHAPED = re.compile(
    r"\bsk-[A-Za-z0-9_\-*.]{8,}"  # OpenAI, Anthropic (sk-ant-…), DeepSeek and most compatibles
    r"|\bAIza[0-9A-Za-z_\-]{20,}"  # Google API keys
    r"|\b(?:ghp|gho|ghs|github_pat|hf|xox[abp]|glpat)_[A-Za-z0-9_\-]{16,}")
_BEARER = re.compile(r"(?i)\b(bearer\s+)([A-Za-z0-9_\-.=+/~]{8,})")
# the value after key= / token= / "api_key": … (query strings, headers, JSON bodies)
_ASSIGNED = re.compile(
    r"(?i)(?<![A-Za-z0-9_\-])((?:api[_-]?key|access[_-]?token|client[_-]?secret|x-goog-api-key"
    r"|x-api-key|key|ak|sk|token|secret|password|sig|signature)[\"']?\s*[:=]\s*[\"']?)"
    r"([A-Za-z0-9_\-.+/~%]{12,})")


def configured_secrets() -> list[str]:
    """Values of the keys this process is configured with, longest first."""
    values = set()
    for name, value in os.environ.items():
        if (name.upper() in SECRET_ENV or _SECRET_NAME.search(name)) and value:
            values.add(value.strip())
    try:  # keys written in the online config file, not only in the environment
        from sinoloc.tools.online.config import get_config

        config = get_config()
        values.update(v.get_secret_value().strip() for v in config.keys.values())
    except Exception:  # an unreadable config has no keys to hide
        pass
    return sorted((v for v in values if len(v) >= MIN_SECRET_LEN), key=len, reverse=True)


_RUN = re.compile(rf"[A-Za-z0-9_\-]{{{MIN_FRAGMENT_LEN},}}")


def scrub_secrets(text: str | None, secrets: list[str] | None = None) -> str:
    """``text`` with every configured key's value, every visible fragment of one (8+ characters)
    and every key-shaped string replaced by ``[REDACTED]``."""
    if not text:
        return text or ""
    secrets = configured_secrets() if secrets is None else secrets
    for value in secrets:
        text = text.replace(value, REDACTED)
    if secrets:
        text = _RUN.sub(lambda m: REDACTED if any(m.group(0) in v for v in secrets)
                        else m.group(0), text)
    text = _SHAPED.sub(REDACTED, text)
    text = _BEARER.sub(lambda m: m.group(1) + REDACTED, text)  # keep "key=" readable
    return _ASSIGNED.sub(lambda m: m.group(1) + REDACTED, text)


def scrub_value(value, secrets: list[str] | None = None):
    """Every string inside a JSON-like value (dicts, lists) scrubbed; the shape is kept."""
    secrets = configured_secrets() if secrets is None else secrets
    if isinstance(value, str):
        return scrub_secrets(value, secrets)
    if isinstance(value, dict):
        return {k: scrub_value(v, secrets) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(scrub_value(v, secrets) for v in value)
    return value


def scrub_message(message):
    """A copy of a chat message (a LangChain ``AIMessage`` or any pydantic message with
    ``content`` and ``tool_calls``) with its text and tool-call arguments scrubbed."""
    secrets = configured_secrets()
    update = {"content": scrub_value(message.content, secrets)}
    for field in ("tool_calls", "invalid_tool_calls"):
        calls = getattr(message, field, None)
        if calls:
            update[field] = [{**c, "args": scrub_value(c.get("args"), secrets)} for c in calls]
    return message.model_copy(update=update)
