"""What a served graph's operator sets in the environment (``langgraph dev``, LangGraph
Platform, ``sinoloc serve``): the images folder, the models clients may pick, the upload store's
bounds and the budget ceilings, as :class:`~sinoloc.agent.boundary.ServeBoundary` fields. Read
once, when the server starts (:meth:`ServeBoundary.from_env`); a value that is not a number is
one line naming its variable."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sinoloc.agent.settings import Environment
from sinoloc.tools.images import MAX_FILE_BYTES
from sinoloc.tools.regions.index import default_cache_dir

ENV_IMAGES_ROOT = "SINOLOC_IMAGES_ROOT"
ENV_MODELS = "SINOLOC_SERVE_MODELS"
ENV_UPLOAD_DIR = "SINOLOC_UPLOAD_DIR"
ENV_UPLOAD_MAX_MB = "SINOLOC_UPLOAD_MAX_MB"
ENV_STORE_MAX_MB = "SINOLOC_UPLOAD_STORE_MB"
ENV_STORE_MAX_AGE_H = "SINOLOC_UPLOAD_MAX_AGE_H"
ENV_STORE_MAX_FILES = "SINOLOC_UPLOAD_STORE_FILES"
ENV_MAX_SAMPLES = "SINOLOC_SERVE_MAX_SAMPLES"
# the operator's ceilings from the environment (``langgraph dev``, LangGraph Platform); under
# ``sinoloc serve`` and ``sinoloc mcp`` their --max-model-calls, --max-tool-calls and --max-seconds
# set those three instead (verify rounds have no option there), and --samples above the
# variable's cap raises it: variable → (field, type)
ENV_CEILINGS: dict[str, tuple[str, type]] = {
    ENV_MAX_SAMPLES: ("max_samples", int),
    "SINOLOC_SERVE_MAX_MODEL_CALLS": ("max_model_calls", int),
    "SINOLOC_SERVE_MAX_TOOL_CALLS": ("max_tool_calls", int),
    "SINOLOC_SERVE_MAX_VERIFY_ROUNDS": ("max_verify_rounds", int),
    "SINOLOC_SERVE_MAX_SECONDS": ("max_seconds", float),
}


def _env_number(env: Mapping[str, str], key: str, kind: type) -> Any:
    """An operator's number from the environment; a bad one is one line naming the variable."""
    try:
        return kind(env[key].strip())
    except ValueError as exc:
        raise ValueError(f"{key}={env[key][:40]!r}: not {'a whole' if kind is int else 'a'} "
                         "number") from exc


def operator_fields(env: Mapping[str, str]) -> dict[str, Any]:
    """The :class:`~sinoloc.agent.boundary.ServeBoundary` fields ``env`` sets."""
    root = env.get(ENV_IMAGES_ROOT, "").strip()
    fields: dict[str, Any] = {
        "images_root": Path(root).expanduser().resolve() if root else None,
        "upload_dir": Path(env[ENV_UPLOAD_DIR]) if env.get(ENV_UPLOAD_DIR)
        else default_cache_dir() / "uploads", "base_url": Environment.read(env).base_url,
        "models": frozenset(m.strip() for m in env.get(ENV_MODELS, "").split(",")
                            if m.strip() and m.strip().lower() != "none")}
    for key, name, scale in ((ENV_UPLOAD_MAX_MB, "upload_max_bytes", 1024 * 1024),
                             (ENV_STORE_MAX_MB, "store_max_bytes", 1024 * 1024),
                             (ENV_STORE_MAX_AGE_H, "store_max_age_s", 3600),
                             (ENV_STORE_MAX_FILES, "store_max_files", 1)):
        if env.get(key):
            fields[name] = _env_number(env, key, float) * scale
    fields |= {name: _env_number(env, key, kind) for key, (name, kind) in ENV_CEILINGS.items()
               if env.get(key, "").strip()}
    if "upload_max_bytes" in fields:
        fields["upload_max_bytes"] = int(min(fields["upload_max_bytes"], MAX_FILE_BYTES))
    for name in ("store_max_bytes", "store_max_files"):
        if name in fields:
            fields[name] = int(fields[name])
    return fields
