"""Run a prior checkpoint on images: views, batched forward, pooling, the result."""

from __future__ import annotations

import threading
from functools import lru_cache
from pathlib import Path

import numpy as np

from sinoloc.tools.prior import PriorUnavailable
from sinoloc.tools.prior.checkpoint import PriorCheckpoint, load_heads_state, read_checkpoint
from sinoloc.tools.prior.distribution import Distribution, PriorResult
from sinoloc.tools.prior.model import HierarchicalHeads, PriorModel, load_backbone, pick_device
from sinoloc.tools.regions import RegionIndex, get_region_index


class PriorPredictor:
    """A loaded checkpoint. ``predict`` is safe to call from several threads."""

    def __init__(self, directory: str | Path, device: str = "auto",
                 index: RegionIndex | None = None):
        import torch

        self.directory = Path(directory).expanduser().resolve()
        self.config: PriorCheckpoint = read_checkpoint(self.directory)
        self.index = index or get_region_index()
        try:
            self.config.labels.check(self.index)
        except ValueError as exc:
            raise PriorUnavailable(f"prior checkpoint {self.directory}: {exc}") from exc
        backbone, kind = load_backbone(self.config.backbone_source(self.directory))
        if kind != self.config.feature_kind:
            raise PriorUnavailable(f"prior checkpoint {self.directory}: the backbone gives "
                                   f"{kind} features, the heads were trained on "
                                   f"{self.config.feature_kind}")
        heads = HierarchicalHeads(self.config.feature_dim, self.config.labels)
        try:
            heads.load_state_dict(load_heads_state(self.directory))
        except RuntimeError as exc:  # shapes that do not match the label space
            raise PriorUnavailable(f"prior checkpoint {self.directory}: the heads do not match "
                                   f"its prior.json ({str(exc).splitlines()[0]})") from exc
        self.device = pick_device(device)
        self.model = PriorModel(backbone, kind, heads).to(self.device).eval()
        self.torch = torch
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        return self.directory.name

    def encode(self, arrays: np.ndarray):
        """Backbone features of a batch of preprocessed arrays (on the CPU)."""
        torch = self.torch
        with self._lock, torch.inference_mode():
            return self.model.features(torch.from_numpy(arrays).to(self.device)).cpu()

    def log_joint(self, arrays: list[np.ndarray]) -> np.ndarray:
        """Calibrated log-probabilities over the label space's districts, one row per array."""
        torch = self.torch
        batch = torch.from_numpy(np.stack(arrays)).to(self.device)
        with self._lock, torch.inference_mode():
            out = self.model.log_joint(batch, self.config.temperature)
        return out.float().cpu().numpy().astype(np.float64)

    def distribution(self, image, is_panorama: bool) -> tuple[Distribution, int]:
        """The pooled distribution of one image: the mean of its views' distributions."""
        prep = self.config.preprocessing
        views = prep.views(image, is_panorama)
        probs = np.exp(self.log_joint([prep.array(v) for v in views])).mean(axis=0)
        return Distribution(probs, self.config.labels), len(views)

    def predict(self, image, is_panorama: bool = False, k: int = 5) -> PriorResult:
        distribution, views = self.distribution(image, is_panorama)
        return distribution.result(self.index, k=k, views=views, checkpoint=str(self.directory))

    def predict_path(self, path: str | Path, k: int = 5) -> PriorResult:
        from sinoloc.tools.images import load_image

        loaded = load_image(path)
        return self.predict(loaded.image, loaded.meta.is_panorama, k=k)


_LOCK = threading.Lock()


def get_predictor(directory: str | Path) -> PriorPredictor:
    """One loaded predictor per checkpoint (reloaded when its prior.json changes)."""
    path = Path(directory).expanduser().resolve()
    config = path / "prior.json"
    stamp = config.stat().st_mtime_ns if config.is_file() else 0
    with _LOCK:
        return _cached_predictor(str(path), stamp)


@lru_cache(maxsize=2)
def _cached_predictor(path: str, stamp: int) -> PriorPredictor:
    return PriorPredictor(path)
