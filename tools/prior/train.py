"""``sinoloc prior train``: fit the three heads (and optionally the backbone) on a labelled set.

One pass reads every image once (its panorama flag and content hash for the split, and, with a
frozen backbone, the features of each view, cached in the output directory). Epochs then train
on those features (frozen) or on augmented pixels (``finetune``); after each epoch the state is
written to ``train_state.pt``, so an interrupted run continues with ``--resume`` (also to train
for more epochs). The epoch with the lowest validation loss is kept; its temperature is fitted on
validation, then the checkpoint and the validation metrics are written, with ``split.json``
(which images were held out).

This module is the entry (options, the loop over epochs, the checkpoint at the end); the run
itself (data, model, resumable state, one epoch) is :mod:`.train_run`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from pydantic import BaseModel, Field

from sinoloc.tools.prior.checkpoint import PriorCheckpoint, backbone_reference, write_checkpoint
from sinoloc.tools.prior.data import coverage_note
from sinoloc.tools.prior.metrics import PriorMetrics, score_views
from sinoloc.tools.prior.run_state import TrainingError
from sinoloc.tools.prior.train_run import TrainingRun

SPLIT_FILE = "split.json"


class TrainOptions(BaseModel):
    data: Path
    backbone: str
    out: Path
    epochs: int = Field(default=10, ge=1)
    batch_size: int = Field(default=32, ge=1)
    lr: float = Field(default=1e-3, gt=0, description="learning rate of the heads")
    backbone_lr: float = Field(default=1e-5, gt=0, description="of the backbone (finetune)")
    weight_decay: float = Field(default=1e-4, ge=0)
    dropout: float = Field(default=0.1, ge=0, lt=1)
    finetune: bool = Field(default=False, description="train the backbone too")
    validation_share: float = Field(default=0.2, gt=0, lt=1)
    split_gap_km: float = Field(default=1.0, ge=0)
    balance: float = Field(default=0.5, ge=0, le=1, description="class-weight power")
    image_size: int | None = Field(default=None, ge=8)
    panorama_views: int = Field(default=4, ge=1, le=12)
    seed: int = 0
    device: str = "auto"
    workers: int | None = Field(default=None, ge=1, description=(
        "threads decoding and preprocessing images (default: the cores, at most 8)"))
    resume: bool = False

    def setup(self, data_fingerprint: str) -> dict:
        """What a resumed run must share with the saved one (epochs may grow)."""
        return {**self.model_dump(mode="json", exclude={"epochs", "out", "resume", "device",
                                                        "workers"}),
                "data": data_fingerprint}


class TrainReport(BaseModel):
    checkpoint: str
    epochs: int
    train_images: int
    validation_images: int
    skipped: list[str]
    label_space: dict[str, int]
    temperature: float
    metrics: PriorMetrics
    history: list[dict]
    split_note: str


def train(opts: TrainOptions, echo: Callable[[str], None] = print,
          progress: bool = False) -> TrainReport:
    run = TrainingRun(opts, echo, progress)
    provinces, cities, districts = run.space.sizes
    echo(f"{len(run.train)} training and {len(run.validation)} validation images "
         f"({run.split.groups} location groups, {run.split.gap_km} km apart); label space "
         f"{provinces} provinces, {cities} cities, {districts} districts; "
         f"{coverage_note(run.train, run.validation)}")
    if run.skipped:
        echo(f"{len(run.skipped)} row(s) skipped: " + "; ".join(run.skipped[:5])
             + (" …" if len(run.skipped) > 5 else ""))
    echo(f"backbone {opts.backbone} ({run.kind} features, {run.feature_dim} wide, "
         f"{'fine-tuned' if opts.finetune else 'frozen'}) on {run.device}")
    for epoch in range(run.start_epoch, opts.epochs):
        record = run.epoch(epoch)
        run.history.append(record)
        run.keep_if_best(record)
        run.save_state(epoch + 1)
        top1 = record["validation_top1"]
        echo(f"epoch {record['epoch']}/{opts.epochs}: train loss {record['train_loss']:.4f}, "
             f"validation NLL {record['validation_nll']:.4f}, top-1 province "
             f"{top1['province']:.1%} city {top1['city']:.1%} district {top1['district']:.1%} "
             f"({record['images_per_s']:.1f} images/s)")
    return finish(run)


def finish(run: TrainingRun) -> TrainReport:
    """Restore the best epoch, calibrate, score and write the checkpoint."""
    opts = run.opts
    if run.best is not None:
        run.model.heads.load_state_dict(run.best["heads"])
        if opts.finetune:
            run.model.backbone.load_state_dict(run.best["backbone"])
    temperature, metrics = score_views(run.model.heads, run.validation_features(),
                                       run.validation, run.space, run.index, fit=True)
    config = PriorCheckpoint(
        mode="trained", backbone=backbone_reference(opts.backbone), backbone_finetuned=opts.finetune,
        feature_kind=run.kind, feature_dim=run.feature_dim, preprocessing=run.prep,
        labels=run.space, temperature=temperature, region_data=run.index.data_version,
        training={"options": opts.model_dump(mode="json"), "data": run.setup["data"],
                  "train_images": len(run.train), "validation_images": len(run.validation),
                  "best_epoch": run.best["epoch"] if run.best else None,
                  "history": run.history},
        metrics=metrics.model_dump())
    heads = {k: v for k, v in run.model.heads.state_dict().items()}
    write_checkpoint(opts.out, config, heads,
                     backbone=run.model.backbone if opts.finetune else None)
    (opts.out / SPLIT_FILE).write_text(run.split.model_dump_json(indent=1), encoding="utf-8")
    run.echo(f"best epoch {config.training['best_epoch']}; temperature {temperature:.3f}; "
             f"validation ({len(run.validation)} images):\n{metrics.table()}")
    run.echo(f"checkpoint: {opts.out} (use it with `sinoloc locate IMAGE --prior {opts.out}`)")
    return TrainReport(checkpoint=str(opts.out), epochs=len(run.history),
                       train_images=len(run.train), validation_images=len(run.validation),
                       skipped=run.skipped, label_space=dict(zip(
                           ("provinces", "cities", "districts"), run.space.sizes, strict=True)),
                       temperature=temperature, metrics=metrics, history=run.history,
                       split_note=coverage_note(run.train, run.validation))


# TrainingError: what a run raises, caught by callers of train() from here
__all__ = ["SPLIT_FILE", "TrainOptions", "TrainReport", "TrainingError", "finish", "train"]
