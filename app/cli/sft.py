"""``sinoloc sft make-data`` and ``sinoloc sft train`` (heavy imports only when they run)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

EXIT_OK, EXIT_BAD_INPUT = 0, 2


def add_parser(sub) -> None:
    sft = sub.add_parser("sft", help="distil a teacher's reasoning into a local Qwen-VL (LoRA)")
    commands = sft.add_subparsers(dest="sft_command", required=True)
    make = commands.add_parser("make-data", help="teacher explanations for a labelled set")
    make.add_argument("data", type=Path, help="CSV or JSONL: image, lat, lon[, crs, …]")
    make.add_argument("--teacher", required=True, metavar="SPEC",
                      help="a provider:model spec, e.g. google_genai:gemini-2.5-pro")
    make.add_argument("--out", type=Path, required=True, metavar="FILE",
                      help="cot.jsonl (appended; resumes)")
    make.add_argument("--max-error-km", type=float, default=None, help=(
        "keep only examples whose teacher answer lies within this distance of the truth "
        "(default: keep every answered example)"))
    make.add_argument("--rpm", type=float, default=30.0, metavar="N",
                      help="teacher requests per minute")
    make.add_argument("--limit", type=int, default=None, metavar="K",
                      help="only the first K images (default: all)")
    make.add_argument("--base-url", default=None, metavar="URL",
                      help="OpenAI-compatible server URL for --teacher openai:MODEL")
    train = commands.add_parser("train", help="LoRA fine-tuning on cot.jsonl")
    train.add_argument("records", type=Path, help="cot.jsonl written by `sft make-data`")
    train.add_argument("--base", required=True, metavar="DIR",
                       help="Qwen2-VL / Qwen2.5-VL directory")
    train.add_argument("--out", type=Path, required=True, metavar="DIR", help="adapter directory")
    train.add_argument("--epochs", type=int, default=2, metavar="N", help="passes over the records")
    train.add_argument("--lr", type=float, default=2e-4, metavar="RATE",
                       help="LoRA learning rate")
    train.add_argument("--grad-accum", type=int, default=8, metavar="N",
                       help="examples per optimiser step (gradient accumulation)")
    train.add_argument("--lora-r", type=int, default=16, metavar="N", help="LoRA rank")
    train.add_argument("--lora-alpha", type=int, default=32, metavar="N",
                       help="LoRA scaling (alpha)")
    train.add_argument("--val-fraction", type=float, default=0.1, metavar="SHARE",
                       help="share of the records held out for validation")
    train.add_argument("--max-pixels", type=int, default=1024 * 28 * 28, metavar="N",
                       help="image pixels per example after the processor's resize")
    train.add_argument("--gradient-checkpointing", action="store_true",
                       help="recompute activations in the backward pass (less memory, slower)")
    train.add_argument("--device", default=None, help="cuda | mps | cpu (default: the best)")
    train.add_argument("--dtype", default=None, help="bfloat16 | float16 | float32")
    train.add_argument("--resume", action="store_true", help="continue from the last epoch")


def _make_data(args) -> int:
    from sinoloc.agent.llm import LlmSpec, load_chat_model
    from sinoloc.agent.sft.make_data import make_data
    from sinoloc.tools.datasets import load_dataset
    from sinoloc.tools.regions import get_region_index

    spec = LlmSpec.parse(args.teacher, args.base_url)
    if spec.is_none:
        print("sinoloc: --teacher needs a model (provider:model)", file=sys.stderr)
        return EXIT_BAD_INPUT
    items = [i for i in load_dataset(args.data, get_region_index()) if i.usable]
    if args.limit is not None:
        items = items[: args.limit]
    summary = make_data(items, args.out, load_chat_model(spec), spec.label,
                        max_error_km=args.max_error_km, requests_per_minute=args.rpm,
                        on_record=lambda r: print(
                            f"{r.id}: {'kept' if r.kept else 'not kept'}"
                            + (f" ({r.reason})" if r.reason else ""), file=sys.stderr))
    print(summary.model_dump_json())
    return EXIT_OK if summary.stopped is None else 1


def _train(args) -> int:
    try:
        import peft  # noqa: F401
        import torch  # noqa: F401
        import transformers  # noqa: F401
    except ImportError as exc:
        print(f"sinoloc: sft train needs torch, transformers and peft ({exc.name} is missing): "
              "pip install '.[local]' in the sinoloc clone", file=sys.stderr)
        return EXIT_BAD_INPUT
    from sinoloc.agent.sft.train import TrainConfig, load_records, train

    config = TrainConfig(base=args.base, out=str(args.out), epochs=args.epochs,
                         learning_rate=args.lr, grad_accum=args.grad_accum,
                         lora_r=args.lora_r, lora_alpha=args.lora_alpha,
                         val_fraction=args.val_fraction, max_pixels=args.max_pixels,
                         gradient_checkpointing=args.gradient_checkpointing,
                         device=args.device, dtype=args.dtype)
    records = load_records(args.records)
    logs = train(records, config, resume=args.resume, image_root=args.records.parent,
                 progress=lambda line: print(line, file=sys.stderr, end="\r"))
    print(json.dumps([log.model_dump() for log in logs]))
    print(f"adapter: {args.out}  (use it with --llm local:{args.base}+{args.out})",
          file=sys.stderr)
    return EXIT_OK


def main(args: argparse.Namespace) -> int:
    try:
        if args.sft_command == "make-data":
            return _make_data(args)
        return _train(args)
    except ValueError as exc:  # a bad dataset, spec, record file or a refused resume
        print(f"sinoloc: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
