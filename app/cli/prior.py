"""``sinoloc prior train | zero-shot | evaluate | predict`` (heavy imports only when they run)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

EXIT_OK, EXIT_ERROR, EXIT_BAD_INPUT = 0, 1, 2
DEFAULT_BACKBONE = "facebook/convnext-tiny-224"


def add_parser(sub) -> None:
    prior = sub.add_parser("prior", help="the visual prior: train, build zero-shot, evaluate, "
                                         "predict")
    commands = prior.add_subparsers(dest="prior_command", required=True)

    train = commands.add_parser("train", help="train the province / city / district heads on "
                                "a labelled set (resumable)")
    train.add_argument("data", type=Path, help="CSV or JSONL: image, lat, lon[, crs, …] "
                       "(labels come from reverse geocoding)")
    train.add_argument("--backbone", default=DEFAULT_BACKBONE, metavar="ID_OR_PATH", help=(
        "transformers vision model: a Hugging Face id or a local directory (ConvNeXt, ResNet, "
        f"a CLIP such as geolocal/StreetCLIP, …); default {DEFAULT_BACKBONE}"))
    train.add_argument("--out", type=Path, required=True, metavar="DIR",
                       help="checkpoint directory")
    train.add_argument("--epochs", type=int, default=10, metavar="N",
                       help="passes over the training images")
    train.add_argument("--batch-size", type=int, default=32, metavar="N", help="images per step")
    train.add_argument("--lr", type=float, default=1e-3, metavar="RATE",
                       help="heads' learning rate")
    train.add_argument("--finetune", action="store_true", help="train the backbone too "
                       "(default: frozen backbone, features computed once)")
    train.add_argument("--backbone-lr", type=float, default=1e-5, metavar="RATE",
                       help="the backbone's learning rate with --finetune")
    train.add_argument("--validation-share", type=float, default=0.2, metavar="SHARE",
                       help="share of the images held out for validation")
    train.add_argument("--split-gap-km", type=float, default=1.0, help=(
        "images closer than this stay on one side of the split"))
    train.add_argument("--balance", type=float, default=0.5, help=(
        "class-balancing power: 0 none, 1 inverse frequency"))
    train.add_argument("--image-size", type=int, default=None, metavar="PIXELS",
                       help="override the backbone's input size")
    train.add_argument("--panorama-views", type=int, default=4, metavar="N",
                       help="views a panorama is cut into (their predictions are pooled)")
    train.add_argument("--seed", type=int, default=0, metavar="N",
                       help="seed for the split, shuffling and initialisation")
    train.add_argument("--device", default="auto", help="auto | cpu | cuda[:N]")
    train.add_argument("--workers", type=int, default=None, metavar="N", help=(
        "threads decoding and preprocessing images (default: the cores, at most 8)"))
    train.add_argument("--resume", action="store_true", help="continue the run in --out "
                       "(also to train more epochs)")
    _progress_option(train)

    zero = commands.add_parser("zero-shot", help="a prior from a CLIP model's text prompts, "
                               "no training")
    zero.add_argument("--backbone", required=True, metavar="ID_OR_PATH", help="a CLIP model id or "
                      "directory (openai/clip-vit-large-patch14, geolocal/StreetCLIP, …)")
    zero.add_argument("--out", type=Path, required=True, metavar="DIR",
                      help="checkpoint directory")
    zero.add_argument("--image-size", type=int, default=None, metavar="PIXELS",
                      help="override the backbone's input size")

    evaluate = commands.add_parser("evaluate", help="score a checkpoint on a labelled set "
                                   "(--calibrate also fits its temperature there)")
    evaluate.add_argument("checkpoint", type=Path, help="checkpoint directory")
    evaluate.add_argument("data", type=Path, help="CSV or JSONL: image, lat, lon[, crs, …]")
    evaluate.add_argument("--calibrate", action="store_true",
                          help="fit the temperature on this set and save it in the checkpoint")
    evaluate.add_argument("--json", action="store_true", help="print the metrics as JSON")
    _progress_option(evaluate)

    predict = commands.add_parser("predict", help="the prior alone on one image")
    predict.add_argument("checkpoint", type=Path, help="checkpoint directory")
    predict.add_argument("image", help="image file")
    predict.add_argument("-k", type=int, default=3, metavar="N", help="regions per level")
    predict.add_argument("--json", action="store_true", help="print the prediction as JSON")


def _progress_option(parser) -> None:
    parser.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                        help="progress bars on stderr (default: when stderr is a terminal)")


def _progress(args) -> bool:
    return sys.stderr.isatty() if args.progress is None else bool(args.progress)


def _echo(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _train(args) -> int:
    from sinoloc.tools.prior.train import TrainOptions, train

    opts = TrainOptions(
        data=args.data, backbone=args.backbone, out=args.out, epochs=args.epochs,
        batch_size=args.batch_size, lr=args.lr, backbone_lr=args.backbone_lr,
        finetune=args.finetune, validation_share=args.validation_share,
        split_gap_km=args.split_gap_km, balance=args.balance, image_size=args.image_size,
        panorama_views=args.panorama_views, seed=args.seed, device=args.device,
        workers=args.workers, resume=args.resume)
    report = train(opts, echo=_echo, progress=_progress(args))
    print(report.model_dump_json(indent=2, exclude={"history"}))
    return EXIT_OK


def _zero_shot(args) -> int:
    from sinoloc.tools.prior.zero_shot import build_zero_shot

    config = build_zero_shot(args.backbone, args.out, image_size=args.image_size)
    provinces, cities, districts = config.labels.sizes
    print(f"zero-shot prior: {args.out} ({provinces} provinces, {cities} cities, {districts} "
          f"districts; uncalibrated, so fusion counts it {config.fusion_weight:.0%}). Calibrate "
          f"it on labelled images with `sinoloc prior evaluate {args.out} DATA.csv --calibrate`")
    return EXIT_OK


def _evaluate(args) -> int:
    from sinoloc.tools.prior.evaluate import evaluate_checkpoint

    report = evaluate_checkpoint(args.checkpoint, args.data, calibrate=args.calibrate,
                                 echo=_echo if not args.json else (lambda line: None),
                                 progress=_progress(args))
    if args.json:
        print(report.model_dump_json(indent=2))
    return EXIT_OK


def _predict(args) -> int:
    from sinoloc.tools.prior.inference import get_predictor
    from sinoloc.tools.regions import Level

    result = get_predictor(args.checkpoint).predict_path(args.image, k=max(args.k, 1))
    if args.json:
        print(result.model_dump_json(indent=2))
        return EXIT_OK
    for level in Level:
        print(f"{level.value:9s} " + ", ".join(f"{r.name} ({r.adcode}) {r.probability:.1%}"
                                                for r in result.top(level, args.k)))
    print("decoded   " + " › ".join(r.name for r in result.decoded)
          + f"  ({result.views} view(s))")
    return EXIT_OK


COMMANDS = {"train": _train, "zero-shot": _zero_shot, "evaluate": _evaluate,
            "predict": _predict}


def main(args: argparse.Namespace) -> int:
    try:
        import torch  # noqa: F401
        import transformers  # noqa: F401
    except ImportError as exc:
        print(f"sinoloc: the visual prior needs torch and transformers ({exc.name} is missing): "
              "pip install '.[prior]' in the sinoloc clone", file=sys.stderr)
        return EXIT_BAD_INPUT
    from sinoloc.tools.images import ImageInputError
    from sinoloc.tools.prior import PriorUnavailable
    from sinoloc.tools.prior.train import TrainingError

    try:
        return COMMANDS[args.prior_command](args)
    except (PriorUnavailable, TrainingError, ImageInputError, ValueError) as exc:
        print(f"sinoloc: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        if args.prior_command == "train":
            print(f"sinoloc: interrupted; the last finished epoch is saved, continue with "
                  f"`sinoloc prior train … --out {args.out} --resume`", file=sys.stderr)
        raise


__all__ = ["DEFAULT_BACKBONE", "main"]
