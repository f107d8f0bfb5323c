"""Pixels for the backbone: resize, centre crop, normalise; panoramas as perspective views.

The recipe is read from the backbone's own ``preprocessor_config.json`` where there is one and
stored in the checkpoint, so training and inference always agree. Only Pillow and numpy are used
(no torchvision).
"""

from __future__ import annotations

import json
import math
import random
from pathlib import Path

import numpy as np
from PIL import Image
from pydantic import BaseModel, Field

from sinoloc.tools.views import ViewSpec, render_view

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class Preprocessing(BaseModel):
    size: int = Field(default=224, ge=8, description="side of the square fed to the backbone")
    resize: int = Field(default=256, ge=8, description="shortest side before the centre crop")
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD
    panorama_views: int = Field(default=4, ge=1, le=12, description=(
        "perspective views a panorama is cut into (90° wide each, level), predictions pooled"))
    panorama_fov: float = Field(default=90.0, gt=10, lt=180)
    photo_max_views: int = Field(default=3, ge=1, le=6, description=(
        "a wide or tall photo is cut into up to this many overlapping squares along its long "
        "side, so nothing at its edges is cropped away; 1 keeps the centre crop only"))

    @classmethod
    def from_processor_config(cls, config: dict, size: int | None = None) -> Preprocessing:
        """From a Hugging Face ``preprocessor_config.json`` (CLIP, ConvNeXt, ResNet, ViT)."""
        crop: dict[str, int] | int = config.get("crop_size") or {}
        size_entry: dict[str, int] | int = config.get("size") or {}
        shortest = {"shortest_edge": size_entry} if isinstance(size_entry, int) else size_entry
        side = size or (crop.get("height") if isinstance(crop, dict) else crop) \
            or shortest.get("shortest_edge") or shortest.get("height") or 224
        crop_pct = config.get("crop_pct")
        if crop_pct:
            resize = round(side / crop_pct)
        elif crop:
            resize = round(side * (shortest.get("shortest_edge", side) / (
                crop.get("height", side) if isinstance(crop, dict) else crop)))
        else:
            resize = side
        return cls(size=int(side), resize=int(max(resize, side)),
                   mean=tuple(config.get("image_mean") or IMAGENET_MEAN),
                   std=tuple(config.get("image_std") or IMAGENET_STD))

    @classmethod
    def for_backbone(cls, backbone: str, size: int | None = None) -> Preprocessing:
        """The backbone's recipe (a local directory, or the hub cache / the hub); ImageNet
        defaults when it ships none."""
        path = Path(backbone).expanduser() / "preprocessor_config.json"
        config = None
        if path.is_file():
            config = json.loads(path.read_text(encoding="utf-8"))
        elif not Path(backbone).expanduser().exists():
            try:
                from huggingface_hub import hf_hub_download

                config = json.loads(Path(hf_hub_download(backbone, "preprocessor_config.json"))
                                    .read_text(encoding="utf-8"))
            except Exception:  # no file in the repository, or no network: defaults
                config = None
        if config is None:
            return cls(size=size or 224, resize=round((size or 224) / 0.875))
        return cls.from_processor_config(config, size)

    # ------------------------------------------------------------------ pixels
    def views(self, image: Image.Image, is_panorama: bool) -> list[Image.Image]:
        """A panorama's level views around the full circle; a photo as itself, or, when it is
        longer than 1.4 times its short side, as overlapping squares spanning its long side."""
        if not is_panorama:
            return self.photo_views(image)
        step = 360.0 / self.panorama_views
        return [render_view(image, ViewSpec(view_id=f"h{round(i * step):03d}", heading=i * step,
                                            fov=self.panorama_fov, width=self.resize,
                                            height=self.resize))
                for i in range(self.panorama_views)]

    def photo_views(self, image: Image.Image) -> list[Image.Image]:
        short, long = sorted(image.size)
        count = min(self.photo_max_views, math.ceil(long / short)) if long > 1.4 * short else 1
        if count == 1:
            return [image]
        step = (long - short) / (count - 1)
        wide = image.width >= image.height
        return [image.crop((round(i * step), 0, round(i * step) + short, short) if wide
                           else (0, round(i * step), short, round(i * step) + short))
                for i in range(count)]

    def random_view(self, image: Image.Image, is_panorama: bool,
                    rng: random.Random) -> Image.Image:
        """Training augmentation: a panorama view at a random heading and zoom; a photo as is
        (the random crop follows in :meth:`train_array`)."""
        if not is_panorama:
            return image
        fov = self.panorama_fov * rng.uniform(0.8, 1.15)
        return render_view(image, ViewSpec(view_id="random", heading=rng.uniform(0, 360),
                                           pitch=rng.uniform(-3, 8), fov=min(fov, 170.0),
                                           width=self.resize, height=self.resize))

    def array(self, image: Image.Image) -> np.ndarray:
        """Resize the shortest side, centre crop, normalise: float32 (3, size, size)."""
        image = image.convert("RGB")
        scale = self.resize / min(image.size)
        width, height = max(self.size, round(image.width * scale)), \
            max(self.size, round(image.height * scale))
        image = image.resize((width, height), Image.Resampling.BICUBIC)
        left, top = (width - self.size) // 2, (height - self.size) // 2
        return self._normalise(image.crop((left, top, left + self.size, top + self.size)))

    def train_array(self, image: Image.Image, rng: random.Random) -> np.ndarray:
        """A random crop of 50–100 % of the area at an aspect of 3:4 to 4:3, then as
        :meth:`array` (never mirrored: China drives on the right, and text reads one way)."""
        image = image.convert("RGB")
        area = image.width * image.height
        for _ in range(10):
            target = area * rng.uniform(0.5, 1.0)
            aspect = np.exp(rng.uniform(np.log(3 / 4), np.log(4 / 3)))
            w, h = round(np.sqrt(target * aspect)), round(np.sqrt(target / aspect))
            if 0 < w <= image.width and 0 < h <= image.height:
                left, top = rng.randint(0, image.width - w), rng.randint(0, image.height - h)
                image = image.crop((left, top, left + w, top + h))
                break
        return self._normalise(image.resize((self.size, self.size), Image.Resampling.BICUBIC))

    def _normalise(self, image: Image.Image) -> np.ndarray:
        scaled = np.asarray(image, dtype=np.float32) / 255.0
        pixels = (scaled - np.asarray(self.mean, dtype=np.float32)) / \
            np.asarray(self.std, dtype=np.float32)
        return np.ascontiguousarray(pixels.transpose(2, 0, 1))
