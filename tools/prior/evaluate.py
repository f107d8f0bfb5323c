"""Score any prior checkpoint on a labelled set, and optionally fit its temperature there
(``sinoloc prior evaluate DIR DATA [--calibrate]``): how a zero-shot prior gets calibrated, and
how a trained one is checked on a held-out test set."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
from pydantic import BaseModel

from .calibration import fit_temperature, pooled_log_probs
from .checkpoint import CONFIG_FILE, read_checkpoint
from .data import examples_from_dataset
from .distribution import Distribution
from .inference import PriorPredictor
from .loader import ViewFeatures
from .metrics import PriorMetrics, score


class EvaluationReport(BaseModel):
    checkpoint: str
    images: int
    skipped: list[str]
    temperature: float
    calibrated: bool
    metrics: PriorMetrics


def evaluate_checkpoint(directory: str | Path, data: str | Path, calibrate: bool = False,
                        echo: Callable[[str], None] = print,
                        progress: bool = False) -> EvaluationReport:
    import torch

    predictor = PriorPredictor(directory)
    examples, skipped = examples_from_dataset(data, predictor.index)

    def encode(arrays):
        with torch.inference_mode():
            return predictor.model.features(torch.from_numpy(arrays).to(predictor.device)).cpu()

    features_of, _, failed = ViewFeatures(predictor.config.preprocessing, encode).run(
        [(ex.id, ex.image, None) for ex in examples], progress)
    skipped += [f"{key}: {why}" for key, why in failed.items()]
    kept = [ex for ex in examples if ex.id in features_of]
    if not kept:
        raise ValueError(f"{data}: no usable image to evaluate on")
    rows = [features_of[ex.id] for ex in kept]
    features = torch.cat(rows).to(predictor.device)
    owners = [i for i, r in enumerate(rows) for _ in range(r.shape[0])]
    heads = predictor.model.heads
    space = predictor.config.labels
    temperature = predictor.config.temperature
    with torch.inference_mode():
        if calibrate:
            temperature = fit_temperature(heads, features, owners, [
                (space.encode(ex.district_adcode) or (None, None, None))[2] for ex in kept])
        log_probs = pooled_log_probs(heads, features, owners, temperature)
    metrics = score([Distribution(np.exp(r), space) for r in log_probs], kept, predictor.index)
    if calibrate:
        config = read_checkpoint(predictor.directory)
        config = config.model_copy(update={
            "temperature": temperature, "fusion_weight": 1.0,
            "metrics": {**config.metrics, "calibration": {
                "data": str(Path(data).resolve()), "images": len(kept),
                **metrics.model_dump()}}})
        path = predictor.directory / CONFIG_FILE
        tmp = path.with_suffix(".tmp")
        tmp.write_text(config.model_dump_json(indent=2), encoding="utf-8")
        tmp.replace(path)
        echo(f"temperature {temperature:.3f} written to {path}")
    echo(f"{len(kept)} images ({len(skipped)} skipped), temperature {temperature:.3f}:\n"
         f"{metrics.table()}")
    return EvaluationReport(checkpoint=str(predictor.directory), images=len(kept),
                            skipped=skipped, temperature=temperature, calibrated=calibrate,
                            metrics=metrics)
