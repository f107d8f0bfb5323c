"""What an eval run is: the locator's settings, ablations and baselines, and the code version.

The config is stored in ``run.json`` so that a report says exactly what produced it, and a
resumed run refuses to mix rows made under a different config.
"""

from __future__ import annotations

import platform
import subprocess
import sys
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, model_validator

from ..agent.toolbox import TOOLS

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


class RunConfig(BaseModel):
    """Everything that changes what a run predicts (EXIF is always ignored in eval)."""

    llm: str | None = Field(default=None, description="--llm spec; None: the deterministic policy")
    base_url: str | None = None
    max_tokens: int | None = None
    ocr_backend: str = "rapidocr"
    baseline: Literal["constant", "prior", "ocr"] | None = None
    disabled_tools: list[str] = Field(default_factory=list)
    verify: bool = True
    top_k: int = Field(default=50, ge=1, le=50)
    max_model_calls: int = 12
    max_tool_calls: int = 24
    max_seconds: float = 300.0
    timeout_s: float = Field(default=600.0, gt=0, description="hard per-image limit")
    offline: bool = Field(default=False, description="no network call by the tools")
    prior: str | None = Field(default=None, description="visual prior checkpoint directory")
    prior_id: str | None = Field(default=None, description=(
        "fingerprint of that checkpoint: a retrained prior in the same directory is another run"))

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
                "verify": self.verify, "offline": self.offline, "prior": self.prior}

    def label(self) -> str:
        """A short name for tables: backend, baseline and ablations."""
        parts = [(self.baseline and f"baseline:{self.baseline}") or self.llm or "deterministic"]
        if self.prior:
            parts.append(f"prior:{Path(self.prior).name}")
        if not self.baseline:
            parts += [f"-{t}" for t in self.switched_off]
        if not self.verify:
            parts.append("-verify")
        return " ".join(parts)

    def comparable(self) -> dict:
        """The fields a resumed run must share with the rows already written."""
        return self.model_dump(exclude={"timeout_s"})


def build_locator(config: RunConfig):
    """The :class:`Geolocator` a worker uses for ``config``."""
    from ..agent.api import Geolocator
    from ..agent.llm import LlmSpec, build_policy

    spec = LlmSpec.parse(config.llm or "none", config.base_url, max_tokens=config.max_tokens)
    return Geolocator(build_policy(spec))


def code_version() -> dict:
    """The package version and, when run from a git checkout, the commit and whether the
    working tree had changes."""
    from .. import __version__

    root = Path(__file__).resolve().parent.parent
    info: dict = {"sinoloc": __version__, "python": sys.version.split()[0],
                  "platform": platform.platform()}
    try:
        commit = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], check=True,
                                capture_output=True, text=True, timeout=5).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain"], check=True,
                               capture_output=True, text=True, timeout=5).stdout.strip()
        info.update(git_commit=commit, git_dirty=bool(dirty))
    except (OSError, subprocess.SubprocessError):
        pass
    return info
