"""``sinoloc eval validate | run | report | compare``."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

EXIT_OK, EXIT_ERROR, EXIT_BAD_INPUT = 0, 1, 2
# kept here so that building the parser imports nothing heavy (RunConfig checks both again)
BASELINE_NAMES = ("constant", "prior", "ocr")


def add_parser(sub) -> None:
    parser = sub.add_parser("eval", help="evaluate on a labelled set (validate, run, report, "
                                         "compare)")
    commands = parser.add_subparsers(dest="eval_command", required=True)

    validate = commands.add_parser("validate", help="check a dataset before running it")
    validate.add_argument("data", type=Path, help="CSV or JSONL: image, lat, lon[, crs, "
                                                  "province, city, district, id, …]")
    validate.add_argument("--json", action="store_true")

    run = commands.add_parser(
        "run", help="locate every image into a resumable run directory",
        description="Locate every image into a resumable run directory. One run per directory "
                    "at a time (a second one exits 2 naming the holder). Exit codes: 0 done, 2 bad "
                    "input or directory in use, 130 / 143 stopped by SIGINT / SIGTERM (run.json "
                    "records it; continue with --resume).")
    run.add_argument("data", type=Path)
    run.add_argument("--out", type=Path, required=True, help="run directory, e.g. runs/NAME")
    run.add_argument("--resume", action="store_true", help="continue a run in --out")
    run.add_argument("--workers", type=int, default=1,
                     help="worker processes (0: in this process, no hard timeout)")
    run.add_argument("--limit", type=int, default=None, help="only the first K usable images")
    run.add_argument("--timeout", type=float, default=600.0, help="hard per-image limit (s)")
    run.add_argument("--baseline", choices=BASELINE_NAMES,
                     help="constant: the no-evidence point; prior: the visual prior alone; "
                          "ocr: OCR clues alone")
    run.add_argument("--disable", action="append", default=[], metavar="TOOL",
                     help="switch a tool off (ablation): cnn_prior, ocr, lookup_clues, "
                          "geocode_poi, reverse_geocode, web_search, lookup_knowledge")
    run.add_argument("--no-verify", action="store_true", help="accept the first answer")
    run.add_argument("--offline", action="store_true", help="no network call by the tools "
                     "(geocoders, web search), whatever is configured")
    run.add_argument("--prior", metavar="DIR", default=None, help="visual prior checkpoint "
                     "(default $SINOLOC_PRIOR_CHECKPOINT); with --baseline prior: the prior alone")
    run.add_argument("--llm", default=None, help="as for locate; default $SINOLOC_LLM or none")
    run.add_argument("--base-url", default=None)
    run.add_argument("--max-tokens", type=int, default=None)
    run.add_argument("--max-model-calls", type=int, default=12)
    run.add_argument("--max-tool-calls", type=int, default=24)
    run.add_argument("--max-seconds", type=float, default=300.0)
    run.add_argument("--ocr", default=os.environ.get("SINOLOC_OCR", "rapidocr"),
                     choices=["rapidocr", "paddleocr"])
    run.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                     help="progress line on stderr (default: when stderr is a terminal)")

    report = commands.add_parser("report", help="metrics, Markdown report and figures")
    report.add_argument("run", type=Path)
    report.add_argument("--out", type=Path, default=None, help="default RUN/report")
    report.add_argument("--slice", action="append", default=[], metavar="COLUMN",
                        help="also slice by a dataset column (or notes key=value)")
    report.add_argument("--no-plots", action="store_true")
    report.add_argument("--cluster", metavar="COLUMN", help="bootstrap whole clusters of this "
                        "column (images of one route or street are not independent)")

    compare = commands.add_parser("compare", help="side-by-side table of several runs")
    compare.add_argument("runs", type=Path, nargs="+")
    compare.add_argument("--out", type=Path, required=True)
    compare.add_argument("--no-plots", action="store_true")
    compare.add_argument("--cluster", metavar="COLUMN", help="as for report")


def _validate(args) -> int:
    from ..tools.regions import get_region_index
    from .datasets import load_dataset, validate

    report = validate(load_dataset(args.data, get_region_index()))
    if args.json:
        print(report.model_dump_json(indent=2))
    else:
        for issue in report.issues:
            print(f"{issue.severity:7s} {issue.id}: {issue.message}")
        print(f"{report.rows} rows, {report.usable} usable, {len(report.errors)} errors, "
              f"{len(report.issues) - len(report.errors)} warnings")
    return EXIT_OK if not report.errors else EXIT_BAD_INPUT


def _prior_checkpoint(args) -> tuple[str | None, str | None]:
    """The run's prior as an absolute path and its fingerprint (checked before any image)."""
    from ..tools.prior import configured_checkpoint
    from ..tools.prior.checkpoint import checkpoint_id, read_checkpoint

    prior = configured_checkpoint(args.prior)
    if not prior:
        return None, None
    path = Path(prior).expanduser().resolve()
    read_checkpoint(path)
    return str(path), checkpoint_id(path)


def _run(args) -> int:
    from .rundir_lock import RunDirBusy, RunDirLock

    try:  # before the slow imports: a second run on one directory is refused at once
        lock = RunDirLock(args.out).acquire()
    except RunDirBusy as exc:
        print(f"sinoloc eval: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    try:
        return _run_locked(args, lock)
    finally:
        lock.release()  # (run() has released it already when it ran)


def _run_locked(args, lock) -> int:
    from ..agent.llm import LlmSpec
    from ..tools.regions import get_region_index
    from .datasets import dataset_fingerprint, load_dataset
    from .interrupts import RunInterrupted
    from .run_config import RunConfig, build_locator
    from .runner import rows_of, run, summary_line

    llm = args.llm if args.llm is not None else os.environ.get("SINOLOC_LLM")
    spec = LlmSpec.parse(llm or "none", args.base_url)
    prior, prior_id = _prior_checkpoint(args)
    if args.baseline == "prior" and prior is None:
        print("sinoloc eval: --baseline prior without --prior (or $SINOLOC_PRIOR_CHECKPOINT) "
              "runs the uniform prior, the same as --baseline constant", file=sys.stderr)
    config = RunConfig(llm=None if spec.is_none else llm, base_url=args.base_url,
                       max_tokens=args.max_tokens, ocr_backend=args.ocr, baseline=args.baseline,
                       disabled_tools=args.disable, verify=not args.no_verify,
                       max_model_calls=args.max_model_calls, max_tool_calls=args.max_tool_calls,
                       max_seconds=args.max_seconds, timeout_s=args.timeout,
                       offline=args.offline, prior=prior, prior_id=prior_id)
    build_locator(config)  # the OCR backend, prior and model load, offline rule kept: before any image
    items = load_dataset(args.data, get_region_index())
    try:
        record = run(items, args.out, config, dataset=str(args.data.resolve()),
                     dataset_sha256=dataset_fingerprint(args.data), workers=args.workers,
                     limit=args.limit, resume=args.resume, progress=args.progress, lock=lock)
    except RunInterrupted as exc:  # stopped cleanly: workers gone, run.json says so
        print(f"sinoloc eval: {exc} after {exc.rows_written} new row(s); continue with: "
              f"sinoloc eval run {args.data} --out {args.out} --resume", file=sys.stderr)
        return exc.exit_code
    for item_id, why in record.skipped.items():
        print(f"skipped {item_id}: {why}", file=sys.stderr)
    print(summary_line(record, rows_of(args.out)))
    return EXIT_OK


def _report(args) -> int:
    from ..tools.regions import get_region_index
    from .report import write_report

    path = write_report(args.run, get_region_index(), args.out, tuple(args.slice),
                        plots=not args.no_plots, cluster=args.cluster)
    summary = json.loads((path.parent / "summary.json").read_text(encoding="utf-8"))["summary"]
    print(f"report: {path}")
    print(json.dumps({k: summary[k] for k in ("images", "answered", "rva_auc")}
                     | {"mean_km": summary["mean_km"]["value"],
                        "median_km": summary["median_km"]["value"],
                        "province": summary["levels"]["province"]["top1"]["value"]}))
    return EXIT_OK


def _compare(args) -> int:
    from ..tools.regions import get_region_index
    from .report import write_comparison

    path = write_comparison(args.runs, get_region_index(), args.out, plots=not args.no_plots,
                            cluster=args.cluster)
    print(f"comparison: {path}")
    return EXIT_OK


def main(args) -> int:
    from pydantic import ValidationError

    from ..agent.llm import LlmSpecError
    from ..tools.prior import PriorUnavailable
    from .datasets import DatasetError
    from .runner import RunError

    handlers = {"validate": _validate, "run": _run, "report": _report, "compare": _compare}
    try:
        return handlers[args.eval_command](args)
    except (DatasetError, RunError, LlmSpecError, ValidationError, ValueError,
            PriorUnavailable) as exc:
        print(f"sinoloc eval: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
