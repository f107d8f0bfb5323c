"""Locatability: how much an image reveals about where it was taken, in [0, 1], from what the
system could see after the prelude (GeoReasoner filters its data with such a score; here it
also sets the model's budget and slices evaluations).

Each source is a component in [0, 1] that would locate the image on its own with some chance:
- ``text``: legible text, as characters weighted by OCR confidence (saturating: a few words
  already say much, a wall of text little more);
- ``clues``: the locating evidence, combined as a noisy-or of weight × confidence (the chance
  that at least one clue is right);
- ``prior``: the visual prior's mass on its top province, when a prior ran;
- ``clip``: a CLIP-type model's image-text score of "locatable scene" against "hopeless scene"
  prompts, when such a model is configured (:mod:`sinoloc.tools.locatability_clip`).

The score is a noisy-or of the components, each scaled by how reliably that source locates an
image by itself (``RELIABILITY``); absent sources do not count for or against.
"""

from __future__ import annotations

import math
import re

from sinoloc.agent.schemas import Band, Locatability
from sinoloc.tools.evidence import Evidence, EvidenceKind

RELIABILITY = {"text": 0.35, "clues": 0.9, "prior": 0.6, "clip": 0.5}
TEXT_SCALE_CHARS = 24.0  # about two shop signs' worth of characters gives text ≈ 0.63
BANDS: tuple[tuple[float, Band], ...] = ((0.2, "low"), (0.6, "medium"), (1.01, "high"))
_LEGIBLE = re.compile(r"[\u4e00-\u9fff\u3400-\u4dbfA-Za-z0-9]")


def band_of(score: float) -> Band:
    return next(name for limit, name in BANDS if score < limit)


def legible_text(ocr_spans: list[dict]) -> tuple[int, float, float]:
    """(distinct lines, legible characters, the same weighted by OCR confidence): the same line
    read in two overlapping views counts once."""
    seen: set[str] = set()
    chars = weighted = 0.0
    for span in ocr_spans:
        text = span.get("text", "")
        if text in seen:
            continue
        seen.add(text)
        legible = len(_LEGIBLE.findall(text))
        chars += legible
        weighted += legible * float(span.get("score", 1.0))
    return len(seen), chars, weighted


def _unit(value: float) -> float:
    return float(min(max(value, 0.0), 1.0))


def prior_component(evidence: list[Evidence]) -> float | None:
    """The visual prior's mass on its top province, when a prior ran."""
    priors = [e for e in evidence if e.kind is EvidenceKind.PRIOR]
    if not priors:
        return None
    return _unit(max((r.weight for e in priors for r in e.regions if r.level == "province"),
                     default=0.0))


def locatability(evidence: list[Evidence], ocr_spans: list[dict],
                 clip: float | None = None) -> Locatability:
    lines, chars, weighted = legible_text(ocr_spans)
    components = {"text": 1.0 - math.exp(-weighted / TEXT_SCALE_CHARS)}
    locating = [e for e in evidence if e.kind is not EvidenceKind.PRIOR and e.effective_weight > 0]
    components["clues"] = 1.0 - math.prod(1.0 - min(e.effective_weight, 1.0) for e in locating)
    prior = prior_component(evidence)
    if prior is not None:
        components["prior"] = prior
    if clip is not None:
        components["clip"] = _unit(clip)
    score = 1.0 - math.prod(1.0 - RELIABILITY[name] * value for name, value in components.items())
    score = round(_unit(score), 4)
    return Locatability(
        score=score, band=band_of(score),
        components={k: round(v, 4) for k, v in components.items()},
        features={"ocr_lines": float(lines), "legible_chars": chars,
                  "locating_evidence": float(len(locating))})


MIN_MODEL_CALLS = 3  # a hopeless image still gets a look and an answer


def model_call_budget(max_model_calls: int, score: float | None, adaptive: bool) -> int:
    """The model-call budget of a locate turn: full for promising images, down to 40 % (at
    least ``MIN_MODEL_CALLS``) for images with nothing to locate them by."""
    if not adaptive or score is None:
        return max_model_calls
    return max(min(MIN_MODEL_CALLS, max_model_calls),
               round(max_model_calls * (0.4 + 0.6 * score)))
