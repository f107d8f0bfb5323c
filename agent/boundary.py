"""The trust boundary of a served graph (``langgraph dev``, LangGraph Platform, ``sinoloc serve``).

An HTTP client's ``request``, ``configurable`` and the thread state it can write (the LangGraph
API's ``POST /threads/{id}/state``) are untrusted. In-process callers (``Geolocator``,
``build_graph()``, the CLI) are the machine's own user and keep today's permissive behaviour; a
served graph is built with a :class:`ServeBoundary`, which decides what a client may ask for:

- **models**: the operator's model (``--llm`` / ``SINOLOC_LLM``, with its own address and key),
  ``none``, or one of the models the operator lists in ``SINOLOC_SERVE_MODELS``; never another
  model of the same provider (it would go to the provider's default address with the operator's
  key), never ``python:`` (imports and calls code) or ``local:`` (reads model files);
- **budgets**: the operator's model calls, tool calls, verify rounds and seconds are ceilings a
  client's settings are clamped to (a finite number of seconds): ``sinoloc serve``'s --max-*
  options, or where no command line sets them (``langgraph dev``) ``SINOLOC_SERVE_MAX_MODEL_CALLS``,
  ``_TOOL_CALLS``, ``_VERIFY_ROUNDS`` and ``_SECONDS`` (default: LocateSettings' budgets);
- **images**: an upload (base64 or a data: URI), checked from its header (magic bytes, size, pixel
  count) when the request is admitted, decoded when its run starts (a bounded number of pixels
  at once, tools/images.py) and stored only once it decoded, in a store bounded by disk usage,
  file count and age (tools/upload_store.py); or a file name under the operator's images folder
  (``SINOLOC_IMAGES_ROOT``; unset: no path is accepted). Every refused path gets the same message,
  which says nothing about the host;
- **settings**: any ``LocateSettings`` field except ``prior`` (a checkpoint directory on the
  server: the operator's :attr:`ServeBoundary.prior`, else ``SINOLOC_PRIOR_CHECKPOINT``, applies);
  ``samples`` is lowered to the operator's ``SINOLOC_SERVE_MAX_SAMPLES`` (default 3; the
  operator's own ``serve --samples`` raises it), like a budget;
  an operator's :attr:`ServeBoundary.offline` holds whatever a client sends;
- **thread state**: every node that opens files, calls models or counts budgets reads the state
  through :meth:`ServeBoundary.checked_state` (wired in agent/graph.py): the image must be an
  upload-store entry named by the state's own content hash or a file inside the images folder,
  operator-only fields are refused, budgets are clamped, and counters no run of this graph could
  have written (a start time in the future, negative counts) end the run with one line.

Errors raised here name only what the client sent. The boundary reads the environment once, when
the server starts (:meth:`ServeBoundary.from_env`; the variables are in agent/boundary_env.py).
"""

from __future__ import annotations

import math
import os
import re
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from sinoloc.agent.boundary_env import operator_fields
from sinoloc.agent.settings import LocateRequest, LocateSettings, request_fields, resolve_request
from sinoloc.tools.image_metadata import sniff_format
from sinoloc.tools.image_sources import decode_base64_image, looks_like_base64
from sinoloc.tools.images import (
    MAX_FILE_BYTES,
    ImageInputError,
    LoadedImage,
    load_image,
    probe_image,
    read_image_file,
)
from sinoloc.tools.upload_store import UploadStore, upload_store

OPERATOR_ONLY_FIELDS = ("prior",)
# the budgets a client may lower but never raise above the operator's
BUDGETS = ("max_model_calls", "max_tool_calls", "max_verify_rounds", "max_seconds")
# each limited setting and the boundary's ceiling for it: the budgets, and the trajectories a run
# may ask for (more is lowered to the operator's ceiling, not an error)
CEILINGS = {**{name: name for name in BUDGETS}, "samples": "max_samples"}

REFUSED_PATH = ("image_path: not an image this server can read; send the image itself (base64 or "
                "a data: URI) or the name of a file in the server's images folder")
FORGED_STATE = "thread state: {what} was not written by this server's graph; start a new thread"
UPLOAD_LABEL = "uploaded image"
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class ClientInputError(ImageInputError):
    """Input a served graph's client may not give; the message names only what it sent."""


def _default(name: str) -> Any:
    return LocateSettings.model_fields[name].get_default()


class ServeBoundary(BaseModel):
    """What a served graph accepts from its clients (see the module docstring)."""

    images_root: Path | None = Field(default=None, description=(
        "the folder client image names resolve in; None: no path is accepted"))
    operator_model: str | None = Field(default=None, description=(
        "the label of the operator's own model (clients may name it; it keeps its address)"))
    models: frozenset[str] = Field(default=frozenset(), description=(
        "further provider:model labels a client may pick (SINOLOC_SERVE_MODELS)"))
    upload_dir: Path = Field(description="where uploads are stored, by content hash")
    upload_max_bytes: int = Field(default=50 * 1024 * 1024, ge=1, le=MAX_FILE_BYTES)
    store_max_bytes: int = Field(default=1024 * 1024 * 1024, ge=1, description="disk usage")
    store_max_age_s: float = Field(default=24 * 3600.0, gt=0)
    store_max_files: int = Field(default=20_000, ge=1)
    max_model_calls: int = Field(default=_default("max_model_calls"), ge=1)
    max_tool_calls: int = Field(default=_default("max_tool_calls"), ge=1)
    max_verify_rounds: int = Field(default=_default("max_verify_rounds"), ge=1)
    max_seconds: float = Field(default=_default("max_seconds"), gt=0, allow_inf_nan=False)
    prior: str | None = Field(default=None, description=(
        "the operator's prior checkpoint for every run (None: the configured one, if any)"))
    offline: bool = Field(default=False, description="the operator's offline rule: every run is offline")
    base_url: str | None = Field(default=None, description=(
        "the operator's OpenAI-compatible server, for the models clients pick"))
    max_samples: int = Field(default=3, ge=1, le=8, description=(
        "the most trajectories a client's run may ask for (more is lowered to this)"))

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ServeBoundary:
        """The operator's settings, read once when the server starts."""
        return cls(**operator_fields(os.environ if environ is None else environ))

    @property
    def store(self) -> UploadStore:
        return upload_store(self.upload_dir.expanduser().resolve(), self.store_max_bytes,
                            self.store_max_age_s, self.store_max_files)

    # ------------------------------------------------------------------ models and budgets
    def policy(self, spec: Any):
        """The policy for a client's ``configurable["llm"]``: None for the operator's own model,
        the deterministic policy for ``none``, or an operator-listed model; raises
        ``LlmSpecError`` for anything else."""
        from sinoloc.agent.llm.spec import LlmSpecError, parse_client_spec
        from sinoloc.agent.policies import configured_policy

        offered = sorted(self.models | ({self.operator_model} if self.operator_model else set()))
        providers = frozenset(m.partition(":")[0].lower() for m in offered)
        parsed = parse_client_spec(spec, providers)
        if parsed.is_none:
            return configured_policy("none")
        label = f"{parsed.provider}:{parsed.model}"
        if label == self.operator_model:
            return None
        if label in self.models:
            return configured_policy(label, self.base_url)
        raise LlmSpecError(f"llm: {label} is not available to clients of this server; it accepts "
                           + ", ".join(["none", *offered]))

    def limit(self, settings: dict) -> dict:
        """``settings`` with every budget and ``samples`` at most the operator's (a client may
        lower them)."""
        out = dict(settings)
        for name, attr in CEILINGS.items():
            ceiling = getattr(self, attr)
            value = out.get(name)
            if value is None:
                continue
            if not isinstance(value, int | float) or isinstance(value, bool) \
                    or not math.isfinite(value):
                raise ClientInputError(f"{name}: a finite number")
            out[name] = min(value, ceiling)
        return out

    def _limit_request(self, request: LocateRequest) -> LocateRequest:
        return request.model_copy(update=self.limit(
            {name: getattr(request, name) for name in CEILINGS}))

    # ------------------------------------------------------------------ requests and images
    def _client_fields(self, request: Any, configurable: dict | None) -> tuple[dict, dict]:
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
        return given, configurable

    def precheck(self, request: Any, configurable: dict | None) -> None:
        """What admission checks before a request waits for a run: the settings, the model and
        the image's header (kind, size, pixel count), without decoding a pixel or storing a byte."""
        given, _ = self._client_fields(request, configurable)
        image = given["image_path"]
        probe_image(self.image_bytes(image),
                    UPLOAD_LABEL if self.is_upload(image) else _shown(image))

    @staticmethod
    def is_upload(image: str) -> bool:
        """Whether a client's image is the image itself (base64 or a data: URI), not a name."""
        return looks_like_base64(image)

    def image_bytes(self, image: str) -> bytes:
        """A client's image as bytes: an upload decoded, or a file named inside the images
        folder (any other name refused as every path is)."""
        if self.is_upload(image):
            return decode_base64_image(image, max_bytes=self.upload_max_bytes)
        return self._read_name(image)

    def admit(self, request: Any, configurable: dict | None) -> tuple[LocateRequest, LoadedImage]:
        """The client's request with its image decoded (an upload is stored once it decoded),
        its budgets at most the operator's, or a one-line refusal."""
        given, configurable = self._client_fields(request, configurable)
        image = given["image_path"]
        if looks_like_base64(image):
            data = decode_base64_image(image, max_bytes=self.upload_max_bytes)
            probe_image(data, UPLOAD_LABEL)  # the pixel count from the header, before decoding
            loaded = load_image(data, label=UPLOAD_LABEL)  # a truncated image fails here ...
            path = self.store.add(data, sniff_format(data[:64]))  # ... and is never stored
        else:
            path = self._resolve_name(image)
            loaded = load_image(self._read_name(image), label=_shown(image))
        loaded = LoadedImage(meta=loaded.meta.model_copy(update={"path": str(path)}),
                             image=loaded.image)
        admitted = resolve_request({**given, "image_path": str(path)}, self.limit(configurable))
        return self._limit_request(admitted.model_copy(update=self._operator_fields(admitted))), loaded

    def _operator_fields(self, request: LocateRequest) -> dict[str, Any]:
        """What the operator's settings make of a client's request: the operator's prior, and
        offline when the operator is."""
        fields: dict[str, Any] = {}
        if self.prior:
            fields["prior"] = self.prior
        if self.offline and not request.offline:
            fields["offline"] = True
        return fields

    def _read_name(self, name: str) -> bytes:
        try:
            return read_image_file(self._resolve_name(name), label=_shown(name))
        except ImageInputError as exc:  # gone, replaced or unreadable: say nothing about why
            raise ClientInputError(REFUSED_PATH) from exc

    # ------------------------------------------------------------------ thread state
    def check_image_path(self, path: str | None, sha256: str | None = None) -> None:
        """Refuse an image reference that is neither an upload-store entry (named by
        ``sha256``, when given) nor a file inside the images folder."""
        if not path or "\x00" in path:
            raise ClientInputError(REFUSED_PATH)
        given = Path(path)
        store = self.upload_dir.expanduser().resolve()
        if given.parent == store and (sha256 is None or given.stem == sha256) \
                and self.store.holds(given) and not given.is_symlink():
            return
        if self.images_root is not None and _inside(given, self.images_root):
            return
        raise ClientInputError(REFUSED_PATH)

    def checked_state(self, state: Mapping[str, Any]) -> dict:
        """The thread state a node may act on (see the module docstring): raises
        :class:`ClientInputError` for state no run of this graph writes; budgets clamped."""
        state = dict(state)
        request = state.get("request")
        if request is None:
            return state
        try:
            parsed = LocateRequest.model_validate(request)
        except ValueError as exc:
            raise ClientInputError(FORGED_STATE.format(what="its request")) from exc
        for name in OPERATOR_ONLY_FIELDS:  # only the operator's own value, which admit wrote
            if getattr(parsed, name) not in (None, getattr(self, name)):
                raise ClientInputError(f"{name}: set by the server's operator, not by a client")
        image = state.get("image") or {}
        sha = image.get("sha256") if isinstance(image, dict) else None
        if not isinstance(sha, str) or not _SHA256.match(sha):
            raise ClientInputError(FORGED_STATE.format(what="its image record"))
        self.check_image_path(parsed.image_path, sha)
        if isinstance(image, dict) and image.get("path") not in (None, parsed.image_path):
            raise ClientInputError(FORGED_STATE.format(what="its image record"))
        self._check_counters(state)
        parsed = parsed.model_copy(update=self._operator_fields(parsed))
        state["request"] = self._limit_request(parsed).model_dump(mode="json")
        return state

    @staticmethod
    def _check_counters(state: Mapping[str, Any]) -> None:
        for what, honest in (("its start time", _honest_start(state.get("started_at"))),
                             ("its usage", _honest_usage(state.get("usage") or {})),
                             ("its budget counters", _honest_turn_base(state)),
                             ("its verify rounds", _honest_rounds(state.get("verify_rounds", 0)))):
            if not honest:
                raise ClientInputError(FORGED_STATE.format(what=what))

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


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _honest_start(started: Any) -> bool:
    """A run's start time: none yet, or a real time not in the future."""
    return started is None or (_number(started) and started <= time.time() + 60)


def _honest_usage(usage: Mapping[str, Any]) -> bool:
    return all(_number(v) and v >= 0 for v in usage.values())


def _honest_turn_base(state: Mapping[str, Any]) -> bool:
    """What a turn began with is at most what the thread has spent since."""
    usage = state.get("usage") or {}
    spent = {"tool_calls": len(state.get("tool_trace") or []),
             "model_calls": sum(usage.get(k, 0) for k in ("model_calls", "model_errors")
                                if _number(usage.get(k, 0)))}
    return all(isinstance(v, int) and 0 <= v <= spent.get(k, 0)
               for k, v in (state.get("turn_base") or {}).items())


def _honest_rounds(rounds: Any) -> bool:
    return isinstance(rounds, int) and rounds >= 0


def guarded(node, boundary: ServeBoundary | None):
    """``node`` reading the thread state through ``boundary.checked_state`` (a served graph);
    ``node`` itself when there is no boundary (in-process callers)."""
    if boundary is None:
        return node
    import inspect

    def with_config(state, config=None):  # LangGraph passes the config to a "config" parameter
        return node(boundary.checked_state(state), config)

    def without_config(state):
        return node(boundary.checked_state(state))

    checked = with_config if "config" in inspect.signature(node).parameters else without_config
    checked.__name__ = getattr(node, "__name__", "node")
    return checked


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
