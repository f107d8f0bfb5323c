"""The optional image-text part of locatability: a CLIP-type model scores the image against
prompts of locatable scenes (readable signs, landmarks, road signs) and of hopeless ones (an
empty road, the sky, a room). Configured with ``SINOLOC_LOCATABILITY_CLIP=DIR`` (a local
directory or a cached hub id with ``CLIPModel`` weights, tokenizer and image processor)."""

from __future__ import annotations

import logging
import os
from functools import lru_cache
from pathlib import Path

from sinoloc.prompts import load_prompt

ENV_CLIP = "SINOLOC_LOCATABILITY_CLIP"
log = logging.getLogger(__name__)


def clip_prompts() -> tuple[list[str], list[str]]:
    """(locatable, hopeless) prompts from ``prompts/locatability_clip.md``."""
    positive, negative = [], []
    for line in load_prompt("locatability_clip").splitlines():
        if line.startswith("+ "):
            positive.append(line[2:].strip())
        elif line.startswith("- "):
            negative.append(line[2:].strip())
    if not positive or not negative:
        raise ValueError("locatability_clip.md needs '+ ' and '- ' prompt lines")
    return positive, negative


class ClipScorer:
    def __init__(self, path: str):
        import torch
        from transformers import AutoTokenizer, CLIPImageProcessorPil, CLIPModel

        self.torch = torch
        self.model = CLIPModel.from_pretrained(path).eval()
        self.tokenizer = AutoTokenizer.from_pretrained(path)
        self.processor = CLIPImageProcessorPil.from_pretrained(path) \
            if (Path(path) / "preprocessor_config.json").is_file() or not Path(path).exists() \
            else CLIPImageProcessorPil()
        self.positive, self.negative = clip_prompts()
        self.text = self.tokenizer(self.positive + self.negative, padding=True,
                                   return_tensors="pt")

    def score(self, image) -> float:
        """The probability mass on the locatable prompts, in [0, 1]."""
        pixels = self.processor(images=[image.convert("RGB")], return_tensors="pt")
        with self.torch.inference_mode():
            out = self.model(input_ids=self.text["input_ids"],
                             attention_mask=self.text["attention_mask"],
                             pixel_values=pixels["pixel_values"])
        probs = out.logits_per_image.softmax(dim=-1)[0]
        return float(probs[: len(self.positive)].sum())


@lru_cache(maxsize=2)
def _scorer(path: str) -> ClipScorer:
    return ClipScorer(path)


def clip_locatability(image_path: str, sha256: str | None = None) -> float | None:
    """The CLIP part for ``image_path``, or None when no model is configured (or it fails to
    load or run: locatability then goes on without it, and the log says why)."""
    path = os.environ.get(ENV_CLIP)
    if not path:
        return None
    try:
        from sinoloc.tools.images import run_image

        return _scorer(path).score(run_image(image_path, sha256).image)
    except Exception as exc:  # a missing or broken model never stops a run
        log.warning("locatability CLIP model %s unavailable: %s", path, exc)
        return None
