"""Speed of the visual prior, as medians with same-run reference ratios.

    python -m sinoloc.benchmarks.prior [--runs 5] [--backbones tiny,convnext-tiny,resnet-50]
                                       [--train-images 48] [--no-train-default]

Each backbone is built from its transformers config with random weights (the compute of the
real model, no download): ``tiny`` is the test suite's 2-stage ResNet, ``convnext-tiny`` the
default ``facebook/convnext-tiny-224``, ``resnet-50`` ``microsoft/resnet-50``, ``clip-b32`` a
ViT-B/32 CLIP vision tower. Every one runs through the real code: a checkpoint with heads over
all 2875 districts is written and loaded by ``PriorPredictor``.

Reported per backbone: parameters; inference latency per photo and per panorama (4 views);
the ratio to OCR of the same image (the prelude runs both; on an accelerator, the ratio to the
same prior on the CPU instead); training throughput of ``prior
train`` on a rendered set (frozen: the one-off feature pass and the head epochs; finetune:
whole epochs; the last epoch's rate), in images per second; peak RSS.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from sinoloc.benchmarks.locate import median_time, synthetic_panorama


def quiet_loading():
    from sinoloc.tools.prior.model import quiet_loading as quiet

    return quiet()

ARCHITECTURES = ("tiny", "convnext-tiny", "resnet-50", "clip-b32")


def build_backbone(name: str):
    """(model, image size) of a named architecture, random weights."""
    import torch
    from transformers import (
        CLIPVisionConfig,
        ConvNextConfig,
        ConvNextModel,
        ResNetConfig,
        ResNetModel,
    )

    torch.manual_seed(0)
    if name == "tiny":
        return ResNetModel(ResNetConfig(embedding_size=8, hidden_sizes=[16, 32], depths=[1, 1],
                                        layer_type="basic")), 32
    if name == "convnext-tiny":
        return ConvNextModel(ConvNextConfig()), 224
    if name == "resnet-50":
        return ResNetModel(ResNetConfig()), 224
    if name == "clip-b32":
        from transformers import CLIPVisionModel

        return CLIPVisionModel(CLIPVisionConfig()), 224
    raise ValueError(f"unknown backbone {name}; known: {', '.join(ARCHITECTURES)}")


def write_full_checkpoint(name: str, root: Path) -> tuple[Path, int]:
    """A checkpoint over every district of the index with random heads; its parameters."""
    import torch

    from sinoloc.tools.prior.checkpoint import PriorCheckpoint, write_checkpoint
    from sinoloc.tools.prior.labels import LabelSpace
    from sinoloc.tools.prior.model import HierarchicalHeads, feature_dim, load_backbone
    from sinoloc.tools.prior.preprocess import Preprocessing
    from sinoloc.tools.regions import get_region_index

    model, size = build_backbone(name)
    backbone_dir = root / f"{name}-backbone"
    with quiet_loading():
        model.save_pretrained(backbone_dir)
    backbone, kind = load_backbone(str(backbone_dir))
    width = feature_dim(backbone, kind, size)
    index = get_region_index()
    space = LabelSpace.full(index)
    heads = HierarchicalHeads(width, space)
    torch.nn.init.normal_(heads.province.weight, std=0.05)
    out = root / f"{name}-prior"
    write_checkpoint(out, PriorCheckpoint(
        mode="trained", backbone=str(backbone_dir), feature_kind=kind, feature_dim=width,
        preprocessing=Preprocessing(size=size, resize=round(size / 0.875)), labels=space,
        region_data=index.data_version), heads.state_dict())
    params = sum(p.numel() for p in backbone.parameters()) + sum(
        p.numel() for p in heads.parameters())
    return out, params


def _reference(device: str):
    """(name, seconds(loaded image)): OCR of the same image on CPU runs (the prelude runs both),
    the same prior on the CPU on an accelerator."""
    from sinoloc.tools.views import default_views

    if device == "cpu":
        from sinoloc.tools.ocr import get_engine, read_views

        return "ocr", lambda loaded: read_views(
            loaded.image, default_views(loaded.meta.is_panorama, loaded.image.width),
            get_engine())
    return "cpu", None


def bench_inference(checkpoint: Path, photo: Path, panorama: Path, runs: int,
                    device: str) -> dict:
    from sinoloc.tools.images import load_image
    from sinoloc.tools.prior.inference import PriorPredictor

    started = time.perf_counter()
    predictor = PriorPredictor(checkpoint, device=device)
    load_s = time.perf_counter() - started
    reference, run_reference = _reference(predictor.device.type)
    if run_reference is None:
        on_cpu = PriorPredictor(checkpoint, device="cpu")
        run_reference = lambda loaded: on_cpu.predict(  # noqa: E731
            loaded.image, loaded.meta.is_panorama)
    out = {"device": str(predictor.device), "load_s": round(load_s, 3)}
    for label, path in (("photo", photo), ("panorama", panorama)):
        loaded = load_image(path)
        predictor.predict(loaded.image, loaded.meta.is_panorama)  # warm
        run_reference(loaded)
        prior = median_time(lambda loaded=loaded: predictor.predict(
            loaded.image, loaded.meta.is_panorama), runs)
        other = median_time(lambda loaded=loaded: run_reference(loaded), max(1, runs // 2))
        out[label] = {"prior_median_s": round(prior, 4), f"{reference}_median_s": round(other, 3),
                      f"ratio_prior_to_{reference}": round(prior / other, 3) if other else None}
    return out


def render_training_set(root: Path, images: int) -> Path:
    """``images`` noise photos at real points (district centres) with a labels.csv."""
    from sinoloc.tools.regions import get_region_index

    index = get_region_index()
    rng = np.random.default_rng(0)
    districts = [index.districts[i] for i in rng.choice(len(index.districts), images, False)]
    root.mkdir(parents=True, exist_ok=True)
    lines = ["image,lat,lon"]
    for n, district in enumerate(districts):
        Image.fromarray(rng.integers(0, 255, (300, 400, 3), dtype=np.uint8)).save(
            root / f"{n}.jpg", quality=85)
        lines.append(f"{n}.jpg,{district.lat},{district.lon}")
    path = root / "labels.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def bench_training(name: str, root: Path, data: Path, images: int, device: str) -> dict:
    from sinoloc.tools.prior.train import TrainOptions, train

    model, size = build_backbone(name)
    backbone_dir = root / f"{name}-train-backbone"
    with quiet_loading():
        model.save_pretrained(backbone_dir)
    out = {}
    for mode, finetune, epochs in (("frozen", False, 3), ("finetune", True, 2)):
        started = time.perf_counter()
        report = train(TrainOptions(data=data, backbone=str(backbone_dir),
                                    out=root / f"{name}-{mode}", epochs=epochs, batch_size=16,
                                    finetune=finetune, image_size=size, split_gap_km=0.1,
                                    device=device),
                       echo=lambda line: None)
        wall = time.perf_counter() - started
        epoch_s = sum(h["seconds"] for h in report.history)
        # the last epoch: the first pays for kernel selection and warm caches
        entry = {"wall_s": round(wall, 2),
                 "epoch_images_per_s": report.history[-1]["images_per_s"]}
        if not finetune:  # the one-off pass over every image (decode, preprocess, backbone)
            entry["feature_pass_images_per_s"] = round(images / max(wall - epoch_s, 1e-9), 1)
        out[mode] = entry
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--backbones", default="tiny,convnext-tiny,resnet-50")
    parser.add_argument("--train-images", type=int, default=48)
    parser.add_argument("--device", default="auto", help="auto | cpu | cuda")
    parser.add_argument("--no-train-default", action="store_true",
                        help="train only the tiny backbone (the large ones take minutes on CPU)")
    args = parser.parse_args(argv)
    import torch

    results: dict = {"torch_threads": torch.get_num_threads(), "backbones": {},
                     "accelerator": torch.cuda.get_device_name(0) if torch.cuda.is_available()
                     and args.device != "cpu" else None}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        panorama = synthetic_panorama(root / "pano.jpg")
        photo = root / "photo.jpg"
        Image.fromarray(np.random.default_rng(1).integers(60, 200, (768, 1024, 3),
                                                          dtype=np.uint8)).save(photo)
        data = render_training_set(root / "train", args.train_images)
        for name in args.backbones.split(","):
            checkpoint, params = write_full_checkpoint(name, root)
            entry = {"parameters_m": round(params / 1e6, 2),
                     **bench_inference(checkpoint, photo, panorama, args.runs, args.device)}
            if name == "tiny" or not args.no_train_default:
                entry["training"] = bench_training(name, root, data, args.train_images,
                                                   args.device)
            results["backbones"][name] = entry
            print(f"{name}: {json.dumps(entry)}", file=sys.stderr)
    results["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
