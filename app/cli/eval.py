"""``sinoloc eval validate | run | report | compare | show``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from sinoloc.app.cli.common import EXIT_BAD_INPUT, EXIT_OK
from sinoloc.eval.limits import IMAGE_TIMEOUT_S

# kept here so that building the parser imports nothing heavy (RunConfig checks both again)
BASELINE_NAMES = ("constant", "prior", "ocr")


def add_parser(sub, env=None) -> None:
    """``env``: the :class:`~sinoloc.agent.settings.Environment` that gives --llm, --base-url
    and --ocr their defaults."""
    from sinoloc.agent.settings import OCR_BACKENDS, Environment

    env = env or Environment.read()
    parser = sub.add_parser("eval", help="evaluate on a labelled set (validate, run, report, "
                                         "compare)")
    commands = parser.add_subparsers(dest="eval_command", required=True)

    validate = commands.add_parser("validate", help="check a dataset before running it")
    validate.add_argument("data", type=Path, help="CSV or JSONL: image, lat, lon[, crs, "
                                                  "province, city, district, id, …]")
    validate.add_argument("--json", action="store_true", help="print the report as JSON")

    run = commands.add_parser(
        "run", help="locate every image into a resumable run directory",
        description="Locate every image into a resumable run directory. One run per directory "
                    "at a time (a second one exits 2 naming the holder). Exit codes: 0 done, 2 bad "
                    "input or directory in use, 130 / 143 stopped by SIGINT / SIGTERM (run.json "
                    "records it; continue with --resume).")
    run.add_argument("data", type=Path, help="CSV or JSONL dataset (see `eval validate`)")
    run.add_argument("--out", type=Path, required=True, metavar="DIR",
                     help="run directory, e.g. runs/NAME")
    run.add_argument("--resume", action="store_true", help="continue a run in --out")
    run.add_argument("--workers", type=int, default=1, metavar="N",
                     help="worker processes (0: in this process, no hard timeout)")
    run.add_argument("--limit", type=int, default=None, metavar="K",
                     help="only the first K usable images (default: all)")
    run.add_argument("--timeout", type=float, default=IMAGE_TIMEOUT_S, metavar="SECONDS",
                     help="hard per-image limit (default %(default)s)")
    run.add_argument("--baseline", choices=BASELINE_NAMES,
                     help="constant: the no-evidence point; prior: the visual prior alone; "
                          "ocr: OCR clues alone")
    run.add_argument("--disable", action="append", default=[], metavar="TOOL",
                     help="switch a tool off (ablation): cnn_prior, ocr, lookup_clues, "
                          "geocode_poi, reverse_geocode, web_search, lookup_knowledge, map_view")
    run.add_argument("--no-verify", action="store_true", help="accept the first answer")
    run.add_argument("--offline", action="store_true", help="no network call by the tools "
                     "(geocoders, web search), whatever is configured, and a hosted --llm is "
                     "refused (also SINOLOC_OFFLINE=1)")
    run.add_argument("--prior", metavar="DIR", default=None, help="visual prior checkpoint "
                     "(default $SINOLOC_PRIOR_CHECKPOINT); with --baseline prior: the prior alone")
    run.add_argument("--llm", default=env.llm, metavar="SPEC",
                     help="as for locate; default $SINOLOC_LLM or none")
    run.add_argument("--base-url", default=env.base_url, metavar="URL",
                     help="OpenAI-compatible server URL for --llm openai:MODEL")
    from sinoloc.app.cli.options import add_budget_options, add_model_timeout

    add_budget_options(run)
    add_model_timeout(run)
    run.add_argument("--ocr", default=env.ocr_backend,
                     choices=OCR_BACKENDS, help="OCR backend ($SINOLOC_OCR)")
    run.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                     help="progress line on stderr (default: when stderr is a terminal)")
    run.add_argument("--engine", choices=["local", "ray"], default="local",
                     help="local: worker processes on this machine (--workers); ray: actors on a "
                          "Ray cluster (pip install '.[ray]' in the sinoloc clone)")
    run.add_argument("--ray-address", default=None, metavar="ADDRESS",
                     help="with --engine ray: auto (the running cluster), HOST:PORT or ray://…; "
                          "default: a local cluster on 127.0.0.1 for this run")
    run.add_argument("--actors", type=int, default=None,
                     help="with --engine ray: actors, each with a warm locator (default 2)")
    run.add_argument("--servers", default=None, metavar="URL[,URL…]",
                     help="with --engine ray: OpenAI-compatible servers of one model; the actors "
                          "are spread over them round robin (concurrency per server)")
    run.add_argument("--model-rate", type=float, default=None, metavar="REQ_PER_S",
                     help="with --engine ray: the model's requests per second across all actors")
    from sinoloc.eval.replay import add_replay_options

    add_replay_options(run)

    show = commands.add_parser("show", help="an image's recorded steps, in order")
    show.add_argument("run", type=Path, help="a run directory (or a --record folder)")
    show.add_argument("image", help="the image's id (or the start of its content hash)")

    report = commands.add_parser("report", help="metrics, Markdown report and figures")
    report.add_argument("run", type=Path, help="a run directory of `eval run`")
    report.add_argument("--out", type=Path, default=None, metavar="DIR",
                        help="where to write the report (default: RUN/report)")
    report.add_argument("--slice", action="append", default=[], metavar="COLUMN",
                        help="also slice by a dataset column (or notes key=value)")
    report.add_argument("--no-plots", action="store_true", help="no PNG figures")
    report.add_argument("--cluster", metavar="COLUMN", help="bootstrap whole clusters of this "
                        "column (images of one route or street are not independent)")

    compare = commands.add_parser("compare", help="side-by-side table of several runs")
    compare.add_argument("runs", type=Path, nargs="+", metavar="RUN",
                         help="run directories; each later run is tested against the first")
    compare.add_argument("--out", type=Path, required=True, metavar="DIR",
                         help="where to write comparison.md and its figures")
    compare.add_argument("--no-plots", action="store_true", help="no PNG figures")
    compare.add_argument("--cluster", metavar="COLUMN", help="as for report")


def _validate(args) -> int:
    from sinoloc.eval.datasets import load_dataset, validate
    from sinoloc.tools.regions import get_region_index

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
    from sinoloc.tools.prior import configured_checkpoint
    from sinoloc.tools.prior.checkpoint import checkpoint_id, read_checkpoint

    prior = configured_checkpoint(args.prior)
    if not prior:
        return None, None
    path = Path(prior).expanduser().resolve()
    read_checkpoint(path)
    return str(path), checkpoint_id(path)


def _run(args) -> int:
    from sinoloc.eval.rundir_lock import RunDirBusy, RunDirLock

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
    from sinoloc.agent.llm import LlmSpec
    from sinoloc.eval.datasets import dataset_fingerprint, load_dataset
    from sinoloc.eval.interrupts import RunInterrupted
    from sinoloc.eval.run_config import RunConfig, check_locator
    from sinoloc.eval.runner import rows_of, run, summary_line
    from sinoloc.tools.regions import get_region_index

    llm = args.llm
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
                       model_timeout_s=args.model_timeout, samples=args.samples,
                       sample_selector=args.sample_selector,
                       offline=args.offline, prior=prior, prior_id=prior_id,
                       record=not args.no_record)
    config = replay_config(args) or config  # --replay: the recorded run's settings
    check_locator(config)  # OCR backend, prior, model spec, offline rule: before any image
    engine, engine_workers = _engine(args)
    items = load_dataset(args.data, get_region_index())
    try:
        record = run(items, args.out, config, dataset=str(args.data.resolve()),
                     dataset_sha256=dataset_fingerprint(args.data), workers=engine_workers,
                     limit=args.limit, resume=args.resume, progress=args.progress, lock=lock,
                     engine=engine)
    except RunInterrupted as exc:  # stopped cleanly: workers gone, run.json says so
        print(f"sinoloc eval: {exc} after {exc.rows_written} new row(s); continue with: "
              f"sinoloc eval run {args.data} --out {args.out} --resume", file=sys.stderr)
        return exc.exit_code
    for item_id, why in record.skipped.items():
        print(f"skipped {item_id}: {why}", file=sys.stderr)
    print(summary_line(record, rows_of(args.out)))
    _print_headline(args.out)
    return EXIT_OK


def _print_headline(run_dir: Path) -> None:
    """The numbers people look for first, so a run does not end on row counts alone."""
    from sinoloc.eval.report import headline_text, score_run
    from sinoloc.eval.scoring import summarize, total_area
    from sinoloc.tools.regions import get_region_index

    index = get_region_index()
    images = score_run(run_dir, index).images
    if images:  # point values only: intervals are the report's job
        print(headline_text(summarize(images, total_area(index), resamples=1)))


def _engine(args):
    """The Ray engine and its actor count for ``--engine ray`` (Ray is checked here, before any
    image); ``(None, --workers)`` for the local engine."""
    ray_only = [f for f, v in (("--ray-address", args.ray_address), ("--actors", args.actors),
                               ("--servers", args.servers), ("--model-rate", args.model_rate))
                if v is not None]
    if args.engine != "ray":
        if ray_only:
            raise ValueError(f"{', '.join(ray_only)}: only with --engine ray")
        return None, args.workers
    from sinoloc.eval.ray_engine import RayEngine, RayOptions, on_loopback, require_ray

    require_ray(loopback=on_loopback(args.ray_address))
    servers = [u.strip() for u in (args.servers or "").split(",") if u.strip()]
    options = RayOptions(address=args.ray_address, actors=args.actors or 2, servers=servers,
                         model_rate=args.model_rate)
    return RayEngine(options), options.actors


def _report(args) -> int:
    from sinoloc.eval.report import write_report
    from sinoloc.tools.regions import get_region_index

    path = write_report(args.run, get_region_index(), args.out, tuple(args.slice),
                        plots=not args.no_plots, cluster=args.cluster)
    summary = json.loads((path.parent / "summary.json").read_text(encoding="utf-8"))["summary"]
    print(f"report: {path}")
    _print_warnings(path)
    print(json.dumps({k: summary[k] for k in ("images", "answered", "rva_auc")}
                     | {"mean_km": summary["mean_km"]["value"],
                        "median_km": summary["median_km"]["value"],
                        "province": summary["levels"]["province"]["top1"]["value"]}))
    return EXIT_OK


def _show(args) -> int:
    from sinoloc.app.chat.events import event_line, stream_events
    from sinoloc.eval.replay import show_steps

    for mode, chunk in show_steps(args.run, args.image):
        for event in stream_events(mode, chunk):
            print(event_line(event))
    return EXIT_OK


def _compare(args) -> int:
    from sinoloc.eval.report import write_comparison
    from sinoloc.tools.regions import get_region_index

    path = write_comparison(args.runs, get_region_index(), args.out, plots=not args.no_plots,
                            cluster=args.cluster)
    print(f"comparison: {path}")
    _print_warnings(path)
    return EXIT_OK


def _print_warnings(report: Path) -> None:
    """The report's warnings (too few clusters to resample) also on stderr: nobody should find
    them only by reading the Markdown."""
    for line in report.read_text(encoding="utf-8").splitlines():
        if line.startswith("- **warning**: "):
            print(f"sinoloc eval: warning: {line.removeprefix('- **warning**: ')}", file=sys.stderr)


def main(args) -> int:
    from pydantic import ValidationError

    from sinoloc.agent.llm import LlmSpecError
    from sinoloc.agent.llm.qwen_local import LocalModelError
    from sinoloc.agent.records import RecordError
    from sinoloc.eval.datasets import DatasetError
    from sinoloc.eval.runner import RunError
    from sinoloc.tools.prior import PriorUnavailable

    handlers = {"validate": _validate, "run": _run, "report": _report, "compare": _compare,
                "show": _show}
    try:
        return handlers[args.eval_command](args)
    except (DatasetError, RunError, LlmSpecError, ValidationError, ValueError,
            PriorUnavailable, LocalModelError, RecordError) as exc:
        print(f"sinoloc eval: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT


def replay_config(args):
    """The :class:`~sinoloc.eval.run_config.RunConfig` of a run that replays ``args.replay``
    (None without ``--replay``): the recorded run's own settings, answered from its record
    (``--base-url`` points the live calls of ``--replay-miss live`` at another server of the
    recorded model)."""
    if args.replay is None:
        return None
    from sinoloc.agent.records import load_record
    from sinoloc.eval.run_config import RunConfig
    from sinoloc.eval.runner import RUN_FILE
    from sinoloc.eval.runner import load_record as load_run

    record = load_record(args.replay)  # validated before any image: names file and line
    recorded = load_run(args.replay).config if (args.replay / RUN_FILE).exists() \
        else RunConfig.model_validate(record.manifest.settings)  # a bare record folder
    live = {"base_url": args.base_url} if args.base_url and args.replay_miss == "live" else {}
    return recorded.model_copy(update={
        "replay": str(record.folder.resolve()), "replay_miss": args.replay_miss,
        "record": not args.no_record, "record_dir": None, "timeout_s": args.timeout, **live})
