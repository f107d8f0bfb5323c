"""A prior checkpoint is a directory:

* ``prior.json``: :class:`PriorCheckpoint` (label space as adcodes, backbone id, preprocessing,
  calibration temperature, how it was made and what it scored);
* ``heads.safetensors``: the three heads;
* ``backbone/`` (only when the backbone was fine-tuned): the backbone, saved with
  ``save_pretrained`` (safetensors), used instead of the original id.
"""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path
from typing import Final, Literal

from pydantic import BaseModel, Field, ValidationError

from sinoloc.tools.prior import PriorUnavailable
from sinoloc.tools.prior.labels import LabelSpace
from sinoloc.tools.prior.preprocess import Preprocessing

CONFIG_FILE, HEADS_FILE, BACKBONE_DIR = "prior.json", "heads.safetensors", "backbone"
FORMAT: Final = "sinoloc-prior/1"


class PriorCheckpoint(BaseModel):
    format: Literal["sinoloc-prior/1"] = FORMAT
    mode: Literal["trained", "zero_shot"]
    backbone: str = Field(description="the backbone as given: a Hugging Face id or a path")
    backbone_finetuned: bool = False
    feature_kind: str
    feature_dim: int
    preprocessing: Preprocessing
    labels: LabelSpace
    temperature: float = Field(default=1.0, gt=0, description="divides every head's logits")
    fusion_weight: float = Field(default=1.0, ge=0, le=1, description=(
        "how far fusion trusts the prior: its log-probabilities are multiplied by this"))
    region_data: str = Field(default="", description="region data version it was built on")
    created: str = ""
    training: dict = Field(default_factory=dict, description="options, data and history")
    metrics: dict = Field(default_factory=dict, description="validation metrics")

    def backbone_source(self, directory: Path) -> str:
        return str(directory / BACKBONE_DIR) if self.backbone_finetuned else self.backbone


def backbone_reference(spec: str) -> str:
    """A local backbone as an absolute path (the checkpoint is used from anywhere), a hub id
    as given."""
    local = Path(spec).expanduser()
    return str(local.resolve()) if local.exists() else spec


def write_checkpoint(directory: Path, config: PriorCheckpoint, heads_state: dict,
                     backbone=None) -> Path:
    """Write atomically enough for a reader in another process: weights first, the JSON (which
    makes the directory a checkpoint) last, each through a temporary file."""
    from safetensors.torch import save_file

    directory.mkdir(parents=True, exist_ok=True)
    if backbone is not None:
        from sinoloc.tools.prior.model import quiet_loading

        with quiet_loading():
            backbone.save_pretrained(directory / BACKBONE_DIR)
    tmp = directory / (HEADS_FILE + ".tmp")
    save_file({k: v.detach().cpu().contiguous() for k, v in heads_state.items()}, str(tmp))
    os.replace(tmp, directory / HEADS_FILE)
    write_config(directory, config.model_copy(update={
        "created": config.created or time.strftime("%Y-%m-%dT%H:%M:%S%z")}))
    return directory


def write_config(directory: Path, config: PriorCheckpoint) -> Path:
    """``prior.json``, through a temporary file (a reader never sees half of it)."""
    path = directory / CONFIG_FILE
    tmp = directory / (CONFIG_FILE + ".tmp")
    tmp.write_text(config.model_dump_json(indent=2), encoding="utf-8")
    os.replace(tmp, path)
    return path


def read_checkpoint(directory: str | Path) -> PriorCheckpoint:
    directory = Path(directory).expanduser()
    path = directory / CONFIG_FILE
    if not directory.is_dir():
        raise PriorUnavailable(f"prior checkpoint {directory}: no such directory (train one with "
                               "`sinoloc prior train` or build a zero-shot one with "
                               "`sinoloc prior zero-shot`)")
    if not path.is_file():
        raise PriorUnavailable(f"prior checkpoint {directory}: no {CONFIG_FILE} in it (is it a "
                               "directory written by `sinoloc prior train` or `prior zero-shot`?)")
    try:
        return PriorCheckpoint.model_validate_json(path.read_text(encoding="utf-8"))
    except (ValidationError, ValueError) as exc:
        raise PriorUnavailable(f"prior checkpoint {path}: not a valid {FORMAT} file "
                               f"({str(exc).splitlines()[0]})") from exc


def checkpoint_id(directory: str | Path) -> str:
    """A short fingerprint of a checkpoint (its JSON and weights), for run configs."""
    directory = Path(directory).expanduser()
    digest = hashlib.sha256()
    for name in (CONFIG_FILE, HEADS_FILE):
        path = directory / name
        if path.is_file():
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def load_heads_state(directory: Path) -> dict:
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    path = directory / HEADS_FILE
    try:
        return load_file(str(path))
    except (OSError, RuntimeError, ValueError, SafetensorError) as exc:
        raise PriorUnavailable(f"prior checkpoint {directory}: {HEADS_FILE} cannot be read "
                               f"({exc})") from exc

