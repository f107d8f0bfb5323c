"""One training run of ``sinoloc prior train``: its data, model, resumable state and epoch.

:class:`TrainingRun` reads every image once (unreadable ones dropped, panoramas noted, with a
frozen backbone each view's features cached in the output directory), splits by location, builds
the label space, heads and optimiser, or restores all of it from ``train_state.pt`` on
``--resume``. It then feeds each epoch its batches (cached features, or augmented pixels when
fine-tuning) in an order fixed by (seed, epoch), so that a resumed epoch is the same, and scores
validation after it. :mod:`.train` drives the epochs and writes the checkpoint.
"""

from __future__ import annotations

import math
import random
import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
from pydantic import BaseModel

from sinoloc.tools.prior.calibration import pooled_log_probs, view_owners
from sinoloc.tools.prior.data import (
    PriorExample,
    Split,
    class_weights,
    examples_from_dataset,
    split_by_location,
)
from sinoloc.tools.prior.distribution import Distribution
from sinoloc.tools.prior.labels import LabelSpace
from sinoloc.tools.prior.loader import SeenImage, ViewFeatures, look, ordered_map
from sinoloc.tools.prior.metrics import LEVELS, decoded_hits
from sinoloc.tools.prior.model import (
    HierarchicalHeads,
    PriorModel,
    backbone_features,
    feature_dim,
    load_backbone,
    pick_device,
)
from sinoloc.tools.prior.preprocess import Preprocessing
from sinoloc.tools.prior.run_state import (
    TrainingError,
    read_features,
    read_state,
    write_features,
    write_state,
)
from sinoloc.tools.regions import get_region_index

if TYPE_CHECKING:
    from sinoloc.tools.prior.train import TrainOptions


class _Scan(BaseModel):
    panorama: dict[str, bool]
    sha256: dict[str, str]  # of each file: identical files stay on one side of the split
    unreadable: list[str]


def _bar(iterable, total: int, desc: str, enabled: bool):
    from tqdm import tqdm

    return tqdm(iterable, total=total, desc=desc, disable=not enabled, file=sys.stderr,
                leave=False, dynamic_ncols=True)


def _positions(space: LabelSpace, examples: list[PriorExample]) -> list[tuple[int, int, int]]:
    """Each example's (province, city, district) positions in a space built from their districts
    (so every one has them)."""
    positions = []
    for ex in examples:
        encoded = space.encode(ex.district_adcode)
        if encoded is None:
            raise TrainingError(f"{ex.id}: district {ex.district_adcode} is outside the label space")
        positions.append(encoded)
    return positions


class TrainingRun:
    """One training run's data, model and state."""

    def __init__(self, opts: TrainOptions, echo: Callable[[str], None], progress: bool):
        import torch

        from sinoloc.tools.datasets import dataset_fingerprint

        self.torch, self.opts, self.echo, self.progress = torch, opts, echo, progress
        self.index = get_region_index()
        try:
            examples, self.skipped = examples_from_dataset(opts.data, self.index)
        except ValueError as exc:
            raise TrainingError(str(exc)) from exc
        self.setup = opts.setup(dataset_fingerprint(opts.data))
        self.saved = read_state(opts.out, self.setup, opts.resume, echo)
        torch.manual_seed(opts.seed)
        self.prep = Preprocessing.for_backbone(opts.backbone, opts.image_size).model_copy(
            update={"panorama_views": opts.panorama_views})
        backbone, self.kind = load_backbone(opts.backbone)
        self.device = pick_device(opts.device)
        self.feature_dim = feature_dim(backbone, self.kind, self.prep.size)
        self.backbone = backbone
        self.examples = examples
        self.features: dict | None = None
        self._choose_examples(examples)
        self._build_model(backbone)
        self.history: list[dict] = []
        self.best: dict | None = None
        self.start_epoch = 0
        if self.saved is not None:
            self._restore(self.saved)
        else:
            self._standardise()

    def _choose_examples(self, examples: list[PriorExample]) -> None:
        """The readable images (scanned once: a resumed run reuses its scan) and their split
        into training and validation by location."""
        opts = self.opts
        if self.saved is not None:
            self.scan = _Scan.model_validate(self.saved["scan"])
        else:
            self.scan = self._read_images()
        self.examples = [e for e in examples if e.id not in set(self.scan.unreadable)]
        self.skipped += [f"{i}: unreadable image" for i in self.scan.unreadable]
        if self.saved is not None:
            self.split = Split.model_validate(self.saved["split"])
        else:
            try:
                self.split = split_by_location(self.examples, opts.validation_share,
                                               opts.split_gap_km, opts.seed, self.scan.sha256)
            except ValueError as exc:
                raise TrainingError(str(exc)) from exc
        by_id = {e.id: e for e in self.examples}
        self.train = [by_id[i] for i in self.split.train]
        self.validation = [by_id[i] for i in self.split.validation]

    def _build_model(self, backbone) -> None:
        """The label space of the training districts, the heads on the backbone, the optimiser
        and the class weights of each level."""
        torch, opts = self.torch, self.opts
        self.space = LabelSpace.from_districts((e.district_adcode for e in self.train),
                                               self.index)
        self.labels = _positions(self.space, self.train)
        heads = HierarchicalHeads(self.feature_dim, self.space, dropout=opts.dropout)
        self.model = PriorModel(backbone, self.kind, heads).to(self.device)
        for p in self.model.backbone.parameters():
            p.requires_grad_(opts.finetune)
        groups = [{"params": list(heads.parameters()), "lr": opts.lr}]
        if opts.finetune:
            groups.append({"params": list(self.model.backbone.parameters()),
                           "lr": opts.backbone_lr})
        self.optimizer = torch.optim.AdamW(groups, weight_decay=opts.weight_decay)
        self.level_weights = [torch.tensor(class_weights([lab[i] for lab in self.labels], n,
                                                         opts.balance), dtype=torch.float32,
                                           device=self.device)
                              for i, n in enumerate(self.space.sizes)]

    def _standardise(self, sample: int = 256) -> None:
        """Feature statistics for the heads: every cached training view (frozen), or the
        starting backbone's views of up to ``sample`` training images (finetune)."""
        if not self.opts.finetune:
            features = self._cached_features()
            rows = [features[ex.id] for ex in self.train]
        else:
            picked = random.Random(self.opts.seed).sample(self.train,
                                                          min(sample, len(self.train)))
            rows = self._view_features(picked)
        self.model.heads.standardise(self.torch.cat(rows).to(self.device))

    def _view_features(self, examples: list[PriorExample]) -> list:
        """Each image's view features with the current backbone, in order (batched)."""
        self.model.backbone.eval()
        features, _, failed = self._reader().run(
            [(ex.id, ex.image, self.scan.panorama[ex.id]) for ex in examples])
        if failed:
            raise TrainingError(f"images became unreadable during training: {failed}")
        return [features[ex.id] for ex in examples]

    def _reader(self) -> ViewFeatures:
        return ViewFeatures(self.prep, self._encode, self.opts.batch_size, self.opts.workers)

    def _encode(self, arrays: np.ndarray):
        torch = self.torch
        with torch.inference_mode():
            batch = torch.from_numpy(arrays).to(self.device)
            return backbone_features(self.backbone, self.kind, batch).cpu()

    # ------------------------------------------------------------------ state
    def _restore(self, state: dict) -> None:
        self.model.heads.load_state_dict(state["heads"])
        if self.opts.finetune:
            self.model.backbone.load_state_dict(state["backbone"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.history, self.best, self.start_epoch = state["history"], state["best"], \
            state["epoch"]

    def save_state(self, epoch: int) -> None:
        write_state(self.opts.out, {
            "epoch": epoch, "setup": {**self.setup, "epochs_planned": self.opts.epochs},
            "scan": self.scan.model_dump(), "split": self.split.model_dump(),
            "heads": self.model.heads.state_dict(),
            "backbone": self.model.backbone.state_dict() if self.opts.finetune else None,
            "optimizer": self.optimizer.state_dict(), "history": self.history,
            "best": self.best})

    # ------------------------------------------------------------------ images and features
    def _read_images(self) -> _Scan:
        """Decode every image once: unreadable ones are dropped, panoramas noted, and with a
        frozen backbone every view's features computed (and cached for --resume)."""
        self.backbone.to(self.device).eval()
        items: list[tuple[str, str, bool | None]] = [(ex.id, ex.image, None) for ex in self.examples]
        if self.opts.finetune:
            seen: dict[str, SeenImage] = {}
            failed: dict[str, str] = {}
            for key, image, error in ordered_map(look, items, self._reader().workers):
                if image is not None:  # look gives the image or why it cannot be read
                    seen[key] = image
                elif error is not None:
                    failed[key] = error
        else:
            features, seen, failed = self._reader().run(items, self.progress)
            self.features = features
            write_features(self.opts.out, self.setup, features)
        for key, error in failed.items():
            self.echo(f"skipping {key}: {error}")
        return _Scan(panorama={k: s.is_panorama for k, s in seen.items()},
                     sha256={k: s.sha256 for k, s in seen.items()}, unreadable=sorted(failed))

    def _cached_features(self) -> dict:
        if self.features is None:
            self.features = read_features(self.opts.out, self.setup)
        return self.features

    # ------------------------------------------------------------------ training
    def _train_items(self, epoch: int) -> list[tuple[int, int]]:
        """(example, view) pairs of this epoch, shuffled by (seed, epoch): a resumed epoch
        sees the same order."""
        if self.opts.finetune:
            items = [(i, -1) for i in range(len(self.train))]
        else:
            features = self._cached_features()
            items = [(i, v) for i, ex in enumerate(self.train)
                     for v in range(features[ex.id].shape[0])]
        random.Random(self.opts.seed * 100_003 + epoch).shuffle(items)
        return items

    def _batch_features(self, batch: list[tuple[int, int]], rng: random.Random):
        torch = self.torch
        if not self.opts.finetune:
            features = self._cached_features()
            return torch.stack([features[self.train[i].id][v] for i, v in batch]).to(self.device)
        # one seed per image, drawn here: the augmentation does not depend on thread timing
        jobs = [(self.train[i].image, self.scan.panorama[self.train[i].id],
                 rng.randrange(1 << 31)) for i, _ in batch]
        arrays = list(ordered_map(self._augmented, jobs, self._reader().workers))
        return self.model.features(torch.from_numpy(np.stack(arrays)).to(self.device))

    def _augmented(self, job: tuple[str, bool, int]) -> np.ndarray:
        from sinoloc.tools.images import load_image

        path, is_panorama, seed = job
        rng = random.Random(seed)
        view = self.prep.random_view(load_image(path).image, is_panorama, rng)
        return self.prep.train_array(view, rng)

    def _loss(self, features, batch: list[tuple[int, int]]):
        torch = self.torch
        logs = self.model.heads(features)
        loss = 0.0
        for level, (log_probs, weights) in enumerate(zip(logs, self.level_weights, strict=True)):
            target = torch.tensor([self.labels[i][level] for i, _ in batch], device=self.device)
            w = weights[target]
            loss = loss - (w * log_probs.gather(1, target[:, None])[:, 0]).sum() / w.sum()
        return loss

    def epoch(self, epoch: int) -> dict:
        torch = self.torch
        self.model.heads.train()
        self.model.backbone.train(self.opts.finetune)
        rng = random.Random(self.opts.seed * 7919 + epoch)
        torch.manual_seed(self.opts.seed * 7919 + epoch)  # dropout: a resumed epoch is the same
        items = self._train_items(epoch)
        batches = [items[i:i + self.opts.batch_size]
                   for i in range(0, len(items), self.opts.batch_size)]
        started, total = time.perf_counter(), 0.0
        bar = _bar(batches, len(batches), f"epoch {epoch + 1}/{self.opts.epochs}", self.progress)
        for batch in bar:
            loss = self._loss(self._batch_features(batch, rng), batch)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()
            value = float(loss.detach())
            total += value * len(batch)
            bar.set_postfix(loss=f"{value:.3f}")
        seconds = time.perf_counter() - started
        with torch.inference_mode():
            validation = self.validation_log_probs(1.0)
        val_nll = _mean_nll(validation, self.validation, self.space)
        hits = [decoded_hits(Distribution(np.exp(row), self.space), ex)
                for row, ex in zip(validation, self.validation, strict=True)]
        accuracy = {level: float(np.mean([h[level] for h in hits])) for level in LEVELS}
        return {"epoch": epoch + 1, "train_loss": total / max(len(items), 1),
                "validation_nll": val_nll, "validation_top1": accuracy,
                "seconds": round(seconds, 3), "images_per_s": round(len(items) / seconds, 2)}

    def validation_features(self) -> list:
        """Every validation image's view features (one tensor of views per image)."""
        if not self.opts.finetune:
            features = self._cached_features()
            return [features[ex.id] for ex in self.validation]
        return self._view_features(self.validation)

    def validation_log_probs(self, temperature: float) -> np.ndarray:
        self.model.heads.eval()
        rows = self.validation_features()
        return pooled_log_probs(self.model.heads, self.torch.cat(rows).to(self.device),
                                view_owners(rows), temperature)

    def keep_if_best(self, record: dict) -> None:
        if self.best is None or record["validation_nll"] < self.best["validation_nll"]:
            self.best = {"epoch": record["epoch"], "validation_nll": record["validation_nll"],
                         "heads": {k: v.detach().cpu().clone()
                                   for k, v in self.model.heads.state_dict().items()},
                         "backbone": ({k: v.detach().cpu().clone() for k, v in
                                       self.model.backbone.state_dict().items()}
                                      if self.opts.finetune else None)}


def _mean_nll(log_probs: np.ndarray, examples: list[PriorExample], space: LabelSpace) -> float:
    values = [-float(row[code[2]]) for row, ex in zip(log_probs, examples, strict=True)
              if (code := space.encode(ex.district_adcode)) is not None]
    return float(np.mean(values)) if values else math.nan
