"""Score any prior checkpoint on a labelled set, and optionally fit its temperature there
(``sinoloc prior evaluate DIR DATA [--calibrate]``): how a zero-shot prior gets calibrated, and
how a trained one is checked on a held-out test set."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from pydantic import BaseModel

from sinoloc.tools.prior.checkpoint import write_config
from sinoloc.tools.prior.data import examples_from_dataset
from sinoloc.tools.prior.inference import PriorPredictor
from sinoloc.tools.prior.loader import ViewFeatures
from sinoloc.tools.prior.metrics import PriorMetrics, score_views


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
    predictor = PriorPredictor(directory)
    examples, skipped = examples_from_dataset(data, predictor.index)

    features_of, _, failed = ViewFeatures(predictor.config.preprocessing, predictor.encode).run(
        [(ex.id, ex.image, None) for ex in examples], progress)
    skipped += [f"{key}: {why}" for key, why in failed.items()]
    kept = [ex for ex in examples if ex.id in features_of]
    if not kept:
        raise ValueError(f"{data}: no usable image to evaluate on")
    config = predictor.config
    temperature, metrics = score_views(
        predictor.model.heads, [features_of[ex.id] for ex in kept], kept, config.labels,
        predictor.index, config.temperature, fit=calibrate)
    if calibrate:
        path = write_config(predictor.directory, config.model_copy(update={
            "temperature": temperature, "fusion_weight": 1.0,
            "metrics": {**config.metrics, "calibration": {
                "data": str(Path(data).resolve()), "images": len(kept),
                **metrics.model_dump()}}}))
        echo(f"temperature {temperature:.3f} written to {path}")
    echo(f"{len(kept)} images ({len(skipped)} skipped), temperature {temperature:.3f}:\n"
         f"{metrics.table()}")
    return EvaluationReport(checkpoint=str(predictor.directory), images=len(kept),
                            skipped=skipped, temperature=temperature, calibrated=calibrate,
                            metrics=metrics)
