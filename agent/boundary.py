"""The trust boundary of a served graph (``langgraph dev``, LangGraph Platform, ``sinoloc serve``).

An HTTP client's ``request`` and ``configurable`` are untrusted. In-process callers (``Geolocator``,
``build_graph()``, the CLI) are the machine's own user and keep today's permissive behaviour; a
served graph is built with a :class:`ServeBoundary`, which decides what a client may ask for:

- **models**: ``none`` or ``provider:model`` with the provider on the operator's allow-list
  (``SINOLOC_SERVE_PROVIDERS``); ``python:`` (imports and calls code) and ``local:`` (reads model
  files) only ever come from the server's own configuration (``SINOLOC_LLM`` at start);
- **images**: an upload (base64 or a data: URI), checked as an image (magic bytes, size, pixel
  count from the header) before it is stored in a store of bounded size and age; or a file name
  under the operator's images folder (``SINOLOC_IMAGES_ROOT``; unset: no path is accepted). Every
  refused path gets the same message, which says nothing about the host (whether the path
  exists, what it is, where the server keeps its files);
- **settings**: any ``LocateSettings`` field except ``prior`` (a checkpoint directory on the
  server: the operator's ``SINOLOC_PRIOR_CHECKPOINT`` applies); ``samples`` is lowered to the
  operator's ``SINOLOC_SERVE_MAX_SAMPLES`` (default 3).

Errors raised here name only what the client sent. The boundary reads the environment once, when
the server starts (:meth:`ServeBoundary.from_env`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from sinoloc.agent.settings import LocateRequest, request_fields, resolve_request
from sinoloc.tools.image_sources import (
    decode_base64_image,
    looks_like_base64,
    prune_image_store,
    store_image_bytes,
)
from sinoloc.tools.images import MAX_FILE_BYTES, ImageInputError, LoadedImage, load_image, read_image_file
from sinoloc.tools.regions.index import default_cache_dir

ENV_IMAGES_ROOT = "SINOLOC_IMAGES_ROOT"
ENV_PROVIDERS = "SINOLOC_SERVE_PROVIDERS"
ENV_UPLOAD_DIR = "SINOLOC_UPLOAD_DIR"
ENV_UPLOAD_MAX_MB = "SINOLOC_UPLOAD_MAX_MB"
ENV_STORE_MAX_MB = "SINOLOC_UPLOAD_STORE_MB"
ENV_STORE_MAX_AGE_H = "SINOLOC_UPLOAD_MAX_AGE_H"
ENV_MAX_SAMPLES = "SINOLOC_SERVE_MAX_SAMPLES"
DEFAULT_PROVIDERS = frozenset({"google_genai", "openai", "ollama"})  # the README's providers
OPERATOR_ONLY_FIELDS = ("prior",)

REFUSED_PATH = ("image_path: not an image this server can read; send the image itself (base64 or "
                "a data: URI) or the name of a file in the server's images folder")
UPLOAD_LABEL = "uploaded image"


class ClientInputError(ImageInputError):
    """Input a served graph's client may not give; the message names only what it sent."""


class ServeBoundary(BaseModel):
    """What a served graph accepts from its clients (see the module docstring)."""

    images_root: Path | None = Field(default=None, description=(
        "the folder client image names resolve in; None: no path is accepted"))
    allowed_providers: frozenset[str] = DEFAULT_PROVIDERS
    upload_dir: Path = Field(description="where uploads are stored, by content hash")
    upload_max_bytes: int = Field(default=50 * 1024 * 1024, ge=1, le=MAX_FILE_BYTES)
    store_max_bytes: int = Field(default=1024 * 1024 * 1024, ge=1)
    store_max_age_s: float = Field(default=24 * 3600.0, gt=0)
    max_samples: int = Field(default=3, ge=1, le=8, description=(
        "the most trajectories a client's run may ask for (more is lowered to this)"))

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ServeBoundary:
        """The operator's settings, read once when the server starts."""
        env = os.environ if environ is None else environ
        root = env.get(ENV_IMAGES_ROOT, "").strip()
        providers = env.get(ENV_PROVIDERS)
        fields: dict[str, Any] = {
            "images_root": Path(root).expanduser().resolve() if root else None,
            "upload_dir": Path(env[ENV_UPLOAD_DIR]) if env.get(ENV_UPLOAD_DIR)
            else default_cache_dir() / "uploads"}
        if providers is not None:
            fields["allowed_providers"] = frozenset(
                p.strip().lower() for p in providers.split(",") if p.strip())
        for key, name, scale in ((ENV_UPLOAD_MAX_MB, "upload_max_bytes", 1024 * 1024),
                                 (ENV_STORE_MAX_MB, "store_max_bytes", 1024 * 1024),
                                 (ENV_STORE_MAX_AGE_H, "store_max_age_s", 3600)):
            if env.get(key):
                fields[name] = float(env[key]) * scale
        if env.get(ENV_MAX_SAMPLES):
            fields["max_samples"] = int(env[ENV_MAX_SAMPLES])
        if "upload_max_bytes" in fields:
            fields["upload_max_bytes"] = int(min(fields["upload_max_bytes"], MAX_FILE_BYTES))
        if "store_max_bytes" in fields:
            fields["store_max_bytes"] = int(fields["store_max_bytes"])
        return cls(**fields)

    # ------------------------------------------------------------------ models
    def policy(self, spec: Any):
        """The policy for a client's ``configurable["llm"]``; raises ``LlmSpecError``."""
        from sinoloc.agent.llm.spec import parse_client_spec
        from sinoloc.agent.policies import configured_policy

        parsed = parse_client_spec(spec, self.allowed_providers)
        return configured_policy("none" if parsed.is_none else f"{parsed.provider}:{parsed.model}")

    # ------------------------------------------------------------------ requests and images
    def admit(self, request: Any, configurable: dict | None) -> tuple[LocateRequest, LoadedImage]:
        """The client's request with its image resolved and decoded, or a one-line refusal."""
        configurable = dict(configurable or {})
        given = request_fields(request)
        for name in OPERATOR_ONLY_FIELDS:
            if given.get(name) is not None or configurable.get(name) is not None:
                raise ClientInputError(f"{name}: set by the server's operator, not by a client")
        if configurable.get("llm") is not None:
            self.policy(configurable["llm"])  # refused before any work is done
        image = given.get("image_path")
        if not isinstance(image, str) or not image:
            raise ClientInputError("image_path: give the image (base64 or a data: URI) or the "
                                   "name of a file in the server's images folder")
        if looks_like_base64(image):
            path, label = self._store_upload(image), UPLOAD_LABEL
        else:
            path, label = self._resolve_name(image), _shown(image)
        try:
            data = read_image_file(path, label=label)
        except ImageInputError as exc:  # gone, replaced or unreadable: say nothing about why
            raise ClientInputError(REFUSED_PATH) from exc
        loaded = load_image(data, label=label)
        loaded = LoadedImage(meta=loaded.meta.model_copy(update={"path": str(path)}),
                             image=loaded.image)
        admitted = resolve_request({**given, "image_path": str(path)}, configurable)
        if admitted.samples > self.max_samples:  # the operator's ceiling, not an error
            admitted = admitted.model_copy(update={"samples": self.max_samples})
        return admitted, loaded

    def check_image_path(self, path: str | None) -> None:
        """Refuse a thread whose stored request names a file outside the upload store and the
        images folder (a client can write thread state directly through the server's API)."""
        if not path or not any(_inside(Path(path), d) for d in self._readable_dirs()):
            raise ClientInputError(REFUSED_PATH)

    def _readable_dirs(self) -> list[Path]:
        return [d for d in (self.upload_dir, self.images_root) if d is not None]

    def _store_upload(self, text: str) -> Path:
        data = decode_base64_image(text, max_bytes=self.upload_max_bytes)
        path = store_image_bytes(data, self.upload_dir, max_bytes=self.upload_max_bytes,
                                 label=UPLOAD_LABEL)
        prune_image_store(self.upload_dir, self.store_max_bytes, self.store_max_age_s, keep=path)
        return path

    def _resolve_name(self, name: str) -> Path:
        """The real path of ``name`` inside the images folder, or the one refusal."""
        if self.images_root is None or "\x00" in name or len(name) > 1024:
            raise ClientInputError(REFUSED_PATH)
        try:
            real = (self.images_root / name).resolve()
        except (OSError, RuntimeError, ValueError) as exc:  # a symlink loop, an odd name
            raise ClientInputError(REFUSED_PATH) from exc
        if not _inside(real, self.images_root):
            raise ClientInputError(REFUSED_PATH)
        return real


def _inside(path: Path, folder: Path) -> bool:
    """True when ``path``, symlinks resolved, lies strictly inside ``folder``."""
    try:
        real, root = os.path.realpath(path), os.path.realpath(folder)
        return real != root and os.path.commonpath([real, root]) == root
    except (OSError, ValueError):  # another drive, an odd name
        return False


def _shown(name: str) -> str:
    """The client's file name as shown in a message (its own text, shortened)."""
    name = "".join(c if c.isprintable() else "?" for c in name)
    return name if len(name) <= 80 else name[:77] + "..."
