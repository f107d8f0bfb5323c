"""What an eval run is: the locator's settings, ablations and baselines, and the code version.

The config is stored in ``run.json`` so that a report says exactly what produced it, and a
resumed run refuses to mix rows made under a different config.
"""

from __future__ import annotations

import platform
import subprocess
import sys
from copy import copy
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, model_validator

from sinoloc.agent.llm.spec import LlmSpec
from sinoloc.agent.settings import LocateSettings
from sinoloc.agent.toolbox.registry import TOOLS
from sinoloc.eval.limits import IMAGE_TIMEOUT_S

ALL_TOOLS = tuple(TOOLS)
# Baselines are the same graph with tools switched off, so they are measured exactly like the
# full system (same ingest, same fusion, same output).
BASELINES: dict[str, dict] = {
    # the point that minimises the expected distance under the (uniform per-district) prior,
    # the same for every image
    "constant": {"disabled_tools": list(ALL_TOOLS)},
    # the visual prior alone (--prior DIR; the uniform prior when none is configured)
    "prior": {"disabled_tools": [t for t in ALL_TOOLS if t != "cnn_prior"]},
    # OCR and the offline clue lookup alone: no prior, no geocoding, no web
    "ocr": {"disabled_tools": [t for t in ALL_TOOLS if t not in ("ocr", "lookup_clues")]},
}


def _field(owner: type[BaseModel], name: str) -> Any:
    """A field of the locator's settings or of the model spec, reused as it is (its default,
    bounds and description are written once, there)."""
    return copy(owner.model_fields[name])


class RunConfig(BaseModel):
    """Everything that changes what a run predicts (EXIF is always ignored in eval)."""

    llm: str | None = Field(default=None, description="--llm spec; None: the deterministic policy")
    base_url: str | None = _field(LlmSpec, "base_url")
    max_tokens: int | None = _field(LlmSpec, "max_tokens")
    ocr_backend: str = _field(LocateSettings, "ocr_backend")
    baseline: Literal["constant", "prior", "ocr"] | None = None
    disabled_tools: list[str] = _field(LocateSettings, "disabled_tools")
    verify: bool = _field(LocateSettings, "verify")
    top_k: int = Field(default=50, ge=1, le=50)  # eval scores top-k: it lists every candidate
    max_model_calls: int = _field(LocateSettings, "max_model_calls")
    max_tool_calls: int = _field(LocateSettings, "max_tool_calls")
    max_seconds: float = _field(LocateSettings, "max_seconds")
    samples: int = _field(LocateSettings, "samples")
    sample_selector: Literal["evidence", "verifier"] = _field(LocateSettings, "sample_selector")
    model_timeout_s: float = _field(LlmSpec, "timeout_s")
    timeout_s: float = Field(default=IMAGE_TIMEOUT_S, gt=0, description="hard per-image limit")
    offline: bool = _field(LocateSettings, "offline")
    prior: str | None = _field(LocateSettings, "prior")
    prior_id: str | None = Field(default=None, description=(
        "fingerprint of that checkpoint: a retrained prior in the same directory is another run"))
    record: bool = Field(default=True, description=(
        "record every model and tool exchange into RUN_DIR/record (agent/records)"))
    record_dir: str | None = Field(default=None, description="set by the runner: RUN_DIR/record")
    replay: str | None = Field(default=None, description=(
        "a recorded run directory whose exchanges answer this run's (no model, no network)"))
    replay_miss: Literal["stop", "live"] = Field(default="stop", description=(
        "a request the record lacks: stop the image (status replay_miss) or call live"))

    @model_validator(mode="after")
    def _check(self) -> RunConfig:
        unknown = sorted(set(self.disabled_tools) - set(ALL_TOOLS))
        if unknown:
            raise ValueError(f"unknown tools {unknown}; known: {', '.join(ALL_TOOLS)}")
        if self.baseline and self.llm:
            raise ValueError("a baseline runs without a language model")
        return self

    @property
    def switched_off(self) -> list[str]:
        preset = BASELINES[self.baseline]["disabled_tools"] if self.baseline else []
        return sorted({*preset, *self.disabled_tools})

    def request_options(self) -> dict:
        """Keyword options for :meth:`Geolocator.locate`."""
        return {"ignore_exif": True, "top_k": self.top_k, "ocr_backend": self.ocr_backend,
                "max_model_calls": self.max_model_calls, "max_tool_calls": self.max_tool_calls,
                "max_seconds": self.max_seconds, "disabled_tools": self.switched_off,
                "verify": self.verify, "offline": self.offline, "prior": self.prior,
                "samples": self.samples, "sample_selector": self.sample_selector}

    def locator_settings(self):
        """The :class:`~sinoloc.agent.settings.LocateSettings` every image is located with."""
        from sinoloc.agent.settings import LocateSettings

        return LocateSettings(**self.request_options())

    def model_spec(self):
        """The run's :class:`~sinoloc.agent.llm.LlmSpec`."""
        from sinoloc.agent.llm import LlmSpec

        return LlmSpec.parse(self.llm or "none", self.base_url, max_tokens=self.max_tokens,
                             timeout_s=self.model_timeout_s)

    def label(self) -> str:
        """A short name for tables: backend, baseline and ablations."""
        parts = [(self.baseline and f"baseline:{self.baseline}") or self.llm or "deterministic"]
        if self.prior:
            parts.append(f"prior:{Path(self.prior).name}")
        if not self.baseline:
            parts += [f"-{t}" for t in self.switched_off]
        if not self.verify:
            parts.append("-verify")
        if self.samples > 1:
            parts.append(f"samples={self.samples}"
                         + (" verifier" if self.sample_selector == "verifier" else ""))
        return " ".join(parts)

    def comparable(self) -> dict:
        """The fields a resumed run must share with the rows already written."""
        return self.model_dump(exclude={"timeout_s", "record", "record_dir"})


def check_locator(config: RunConfig):
    """What the driver checks before any image, without loading a model (the workers load
    their own): :func:`sinoloc.agent.build.check_locator` over the run's settings and spec.
    Returns the spec; raises ValueError."""
    from sinoloc.agent.build import check_locator as check

    spec = config.model_spec()
    if config.replay and config.replay_miss == "stop":
        from sinoloc.agent.components import check_components

        settings = config.locator_settings()  # the record answers every model call: no model is
        check_components(settings.ocr_backend, settings.prior, settings.offline)  # built or reached
        return spec
    check(config.locator_settings(), spec)
    return spec


def build_locator(config: RunConfig):
    """The :class:`Geolocator` a worker uses for ``config`` (the one builder,
    :func:`sinoloc.agent.build.build_locator`: the offline rule in the driver and each worker)."""
    from sinoloc.agent.build import build_locator as build

    if config.replay:  # the recorded backend's name over the record (a live model on a miss)
        from sinoloc.agent.build import Locator, checked_policy
        from sinoloc.agent.records import replay_policy
        from sinoloc.agent.records.recording import replay_source

        spec = check_locator(config)
        live = checked_policy(spec, config.offline) if config.replay_miss == "live" else None
        return Locator(replay_policy(replay_source(config.replay), live),
                       config.locator_settings()).geolocator()
    return build(config.locator_settings(), config.model_spec()).geolocator()


_THIS = Path(__file__).parent.name + "/" + Path(__file__).name  # eval/run_config.py


def _git(root: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True,
                          text=True, timeout=5).stdout.strip()


def _checkout_commit(root: Path) -> dict | None:
    """The commit of the git work tree that tracks ``root``'s copy of this module (the code
    itself, run from a checkout or an editable install; not a copy installed into a virtual
    environment that happens to sit inside some checkout), with whether it had changes."""
    try:
        _git(root, "ls-files", "--error-unmatch", str(root / _THIS))
        return {"git_commit": _git(root, "rev-parse", "HEAD"),
                "git_dirty": bool(_git(root, "status", "--porcelain"))}
    except (OSError, subprocess.SubprocessError):
        return None


def _installed_commit() -> dict | None:
    """What pip's ``direct_url.json`` (PEP 610) says about where an installed copy came from:
    the exact commit for a VCS install (``pip install git+…``); for ``pip install DIR``, the
    commit that DIR's checkout has *now*, labelled as such, since the installed files are a copy
    that DIR may have moved on from."""
    import json
    from importlib import metadata
    from urllib.parse import unquote, urlparse

    try:
        text = metadata.distribution("sinoloc").read_text("direct_url.json")
        info = json.loads(text) if text else None
    except (metadata.PackageNotFoundError, ValueError, OSError):
        return None
    if not isinstance(info, dict):
        return None
    vcs = info.get("vcs_info") or {}
    if vcs.get("commit_id"):
        return {"git_commit": vcs["commit_id"], "commit_source": "installed metadata "
                f"(direct_url.json: {vcs.get('vcs', 'vcs')} install of {info.get('url', '?')})"}
    url = urlparse(info.get("url", ""))
    if url.scheme == "file" and url.path:
        source = Path(unquote(url.path))
        found = _checkout_commit(source) if source.is_dir() else None
        if found:
            return {**found, "commit_source": f"install source {source} as it is now (the "
                    "installed copy may predate it)"}
    return None


def code_version() -> dict:
    """The package version and the commit: from the git checkout the code runs from, else from
    the installed distribution's metadata, else ``"unknown"`` (said so, never guessed)."""
    from sinoloc import __version__

    root = Path(__file__).resolve().parent.parent
    info: dict = {"sinoloc": __version__, "python": sys.version.split()[0],
                  "platform": platform.platform()}
    checkout = _checkout_commit(root)
    if checkout:
        return info | checkout | {"commit_source": "checkout"}
    return info | (_installed_commit() or {"git_commit": "unknown", "commit_source": (
        "not a git checkout and no commit in the installed metadata")})
