"""The ``sinoloc`` command line."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from importlib import resources
from pathlib import Path

EXIT_OK, EXIT_ERROR, EXIT_BAD_INPUT = 0, 1, 2


LOCATE_DESCRIPTION = (
    "Locate photos or street-view panoramas taken in China: province / city / district and "
    "WGS-84 coordinates, with the evidence behind them. Several images, folders or glob "
    "patterns run in one process with the models loaded once; a file that cannot be read is "
    "its own row with its error. Exit codes: 0 every image located; 1 internal error; 2 bad "
    "arguments or input (for several images: at least one row failed, reported at the end); "
    "130 / 143 stopped by SIGINT / SIGTERM (with --out, run it again to resume).")


def demo_image() -> Path:
    """The demo photo shipped with the package (rendered by the project: a shop sign in 杭州)."""
    return Path(str(resources.files("sinoloc.tools").joinpath("assets", "demo_hangzhou.jpg")))


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sinoloc", description=(
        "Locate a photo or street-view panorama taken in China: province / city / district "
        "and WGS-84 coordinates, with the evidence behind them."))
    parser.add_argument("--version", action="version", version=_version())
    sub = parser.add_subparsers(dest="command", required=True)
    locate = sub.add_parser("locate", help="locate one image, or many in one process",
                            description=LOCATE_DESCRIPTION)
    locate.add_argument("images", nargs="*", metavar="IMAGE", help=(
        "JPEG / PNG / WebP / GIF / BMP / TIFF / HEIC file, a folder (searched recursively) or a "
        "quoted glob pattern ('photos/**/*.jpg')"))
    locate.add_argument("--demo", action="store_true", help="locate the bundled demo image")
    locate.add_argument("--json", action="store_true", help=(
        "print the GeoPrediction as JSON; for several images one per line (JSONL) with its "
        "\"file\", a failed image as {\"file\": …, \"error\": …}"))
    locate.add_argument("--csv", action="store_true", help=(
        "a CSV summary row per image (file, status, names, adcode, lat, lon, confidence, "
        "error) instead of the full JSON"))
    locate.add_argument("--out", metavar="FILE", help=(
        "write the rows (JSONL, or CSV with --csv or a .csv name) to FILE as each image "
        "finishes; run the same command again to resume: images already in FILE are skipped"))
    locate.add_argument("--workers", type=int, default=1, metavar="N", help=(
        "images located at once, on threads sharing the loaded models"))
    locate.add_argument("--engine", choices=["local", "ray"], default="local", help=(
        "for several images: local (this process, --workers threads) or ray (actors with warm "
        "locators on a Ray cluster, same rows; pip install 'sinoloc[ray]')"))
    locate.add_argument("--ray-address", default=None, metavar="ADDRESS", help=(
        "with --engine ray: auto (the running cluster), HOST:PORT or ray://…; default: a local "
        "cluster on 127.0.0.1 for this command"))
    locate.add_argument("--actors", type=int, default=None, help=(
        "with --engine ray: actors, each with a warm locator (default 2)"))
    locate.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                        help="progress line with rate and ETA on stderr for several images "
                             "(default: when stderr is a terminal)")
    locate.add_argument("--ignore-exif", action="store_true", help="do not use EXIF GPS")
    locate.add_argument("--top-k", type=int, default=10, metavar="N",
                        help="candidate districts to list (1-50)")
    locate.add_argument("--map", metavar="OUT.html", help="write an HTML map of the answer "
                                                          "(one image only)")
    _add_run_options(locate)
    chat = sub.add_parser("chat", help="a conversation about one or more images, with threads",
                          description=(
                              "Locate images and ask about the answers; every step streams as "
                              "it happens. Threads persist in SQLite: --thread ID resumes one."))
    chat.add_argument("images", nargs="*", metavar="IMAGE", help="images to locate first")
    chat.add_argument("--thread", metavar="ID", help="resume (or create) the thread ID")
    chat.add_argument("--list", action="store_true", help="list the saved threads and exit")
    chat.add_argument("--db", metavar="PATH", help="the thread store (default $SINOLOC_CHAT_DB "
                      "or chat.sqlite in the user data directory)")
    chat.add_argument("--ignore-exif", action="store_true", help="do not use EXIF GPS")
    _add_run_options(chat)
    from ..eval.cli import add_parser as add_eval_parser
    from .knowledge_cli import add_parser as add_knowledge_parser

    add_eval_parser(sub)
    add_knowledge_parser(sub)
    from .sft.cli import add_parser as add_sft_parser

    add_sft_parser(sub)
    from .prior_cli import add_parser as add_prior_parser

    add_prior_parser(sub)
    from .serve_cli import add_parser as add_serve_parser

    add_serve_parser(sub)
    from .cli_help import finish_help

    return finish_help(parser)


def _add_run_options(parser: argparse.ArgumentParser) -> None:
    """OCR, language model, budgets and clue files: shared by locate and chat."""
    parser.add_argument("--ocr", default=os.environ.get("SINOLOC_OCR", "rapidocr"),
                        choices=["rapidocr", "paddleocr"], help="OCR backend ($SINOLOC_OCR)")
    parser.add_argument("--prior", metavar="DIR", default=None, help=(
        "visual prior checkpoint (from `sinoloc prior train` or `prior zero-shot`); default "
        "$SINOLOC_PRIOR_CHECKPOINT"))
    parser.add_argument("--offline", action="store_true", help=(
        "no network call at all: geocoders and web search answer from offline data only, and a "
        "hosted --llm is refused (also SINOLOC_OFFLINE=1)"))
    llm = parser.add_argument_group("language model (default: the deterministic offline policy)")
    llm.add_argument("--llm", default=None, metavar="SPEC", help=(
        "none | provider:model (google_genai:gemini-2.5-flash, ollama:qwen2.5vl:7b, "
        "openai:MODEL with --base-url) | local:/path/to/qwen-vl[+/path/to/lora] | "
        "python:package.module:factory (your own LangChain chat model); "
        "default $SINOLOC_LLM or none"))
    llm.add_argument("--base-url", default=None, metavar="URL", help=(
        "OpenAI-compatible server URL (vLLM, …); default $SINOLOC_LLM_BASE_URL"))
    from .cli_options import add_budget_options

    add_budget_options(llm)
    llm.add_argument("--model-timeout", type=float, default=60.0, metavar="SECONDS",
                     help="limit on one model call (within --max-seconds)")
    from .knowledge_cli import add_files_argument

    add_files_argument(parser)


def _version() -> str:
    from .. import __version__

    return f"sinoloc {__version__}"


def _warm_up(ocr_backend: str, prior: str | None = None) -> None:
    """Load the OCR models, the visual prior and the offline data while the main thread imports
    the graph: model loading and inference release the GIL, so this overlaps for real."""
    try:
        if prior:
            from ..tools.prior.inference import get_predictor

            get_predictor(prior)
    except Exception as exc:  # the tool reports it when it runs
        logging.getLogger(__name__).debug("prior warm-up failed: %s", exc)
    try:
        from ..tools.ocr import get_engine

        engine = get_engine(ocr_backend)
        warm = getattr(engine, "warm_up", None)
        if warm is not None:
            warm()
        from ..tools.clues import extract_text_clues

        extract_text_clues("0571-88886666")  # phone geodata, knowledge files, gazetteer
    except Exception as exc:
        logging.getLogger(__name__).debug("warm-up failed: %s", exc)


_WARM_UPS: list = []
WARM_UP_JOIN_S = 30.0


def _start_warm_up(ocr_backend: str, prior: str | None = None) -> None:
    import threading

    thread = threading.Thread(target=_warm_up, args=(ocr_backend, prior), daemon=True)
    thread.start()
    _WARM_UPS.append(thread)


def _finish_warm_ups() -> None:
    """Let a warm-up still loading models finish before the process exits: onnxruntime aborts
    ("terminate called …") when its threads are torn down in the middle of a session load."""
    try:
        while _WARM_UPS:
            _WARM_UPS.pop().join(WARM_UP_JOIN_S)
    except KeyboardInterrupt:  # a second Ctrl-C: leave now
        pass


def _policy(args: argparse.Namespace):
    """The policy named by --llm / $SINOLOC_LLM (heavy backends are imported only here),
    refused when the run is offline and the model is hosted (the one offline rule)."""
    from .llm import build_policy
    from .llm.qwen_local import LocalModelError
    from .offline import check_policy, check_spec

    spec = _spec(args)
    check_spec(spec, args.offline)  # before building: a hosted model needs no key to be refused
    try:
        policy = build_policy(spec)
    except LocalModelError as exc:
        raise ValueError(str(exc)) from exc
    check_policy(policy, args.offline)
    return policy


def _spec(args: argparse.Namespace):
    from .llm import LlmSpec

    return LlmSpec.parse(args.llm, args.base_url, max_tokens=args.max_tokens,
                         timeout_s=args.model_timeout)


def _offline(args: argparse.Namespace) -> bool:
    from .offline import is_offline

    return is_offline(args.offline)


def _check_components(args: argparse.Namespace, prior: str | None) -> None:
    """The OCR backend and prior asked for can load (before any work; ValueError if not)."""
    from .components import check_components

    check_components(args.ocr, prior, args.offline)


def _prior(args: argparse.Namespace) -> str | None:
    from ..tools.prior import configured_checkpoint

    return configured_checkpoint(args.prior)


def _locate_inputs(args: argparse.Namespace) -> tuple[list[Path], bool] | str:
    """The images to locate and whether this is a batch, or the reason the arguments are bad:
    checked before any heavy import, so a typo costs milliseconds, not a model load."""
    from .batch import BatchInputError, expand_inputs

    if args.demo == bool(args.images):
        return "give IMAGE(s) or --demo (one of them)"
    if not 1 <= args.top_k <= 50:
        return "--top-k must be between 1 and 50"
    if args.workers < 1:
        return "--workers must be at least 1"
    if args.demo:
        return [demo_image()], bool(args.out or args.csv)
    try:  # a name matching nothing is reported here, for one image as for many
        images = expand_inputs(args.images)
    except BatchInputError as exc:
        return str(exc)
    single = Path(args.images[0]).expanduser() if len(args.images) == 1 else None
    # one path that is not a folder (a FIFO or a device too: refused as bad input, one line)
    one_file = single is not None and single.exists() and not single.is_dir()
    if one_file and not (args.out or args.csv):
        return images, False  # the full answer (text or indented JSON), as before
    if args.map:
        return "--map writes one image's map: give one image"
    return images, True


def _locate(args: argparse.Namespace) -> int:
    checked = _locate_inputs(args)
    if isinstance(checked, str):
        print(f"sinoloc: {checked}", file=sys.stderr)
        return EXIT_BAD_INPUT
    images, batch = checked
    problem = _engine_problem(args, batch)
    if problem:
        print(f"sinoloc: {problem}", file=sys.stderr)
        return EXIT_BAD_INPUT
    prior = _prior(args)
    if args.engine == "local":  # the actors load their own models
        _start_warm_up(args.ocr, prior)
    from ..tools.images import ImageInputError
    from .api import Geolocator
    from .knowledge_cli import use_files as use_knowledge_files
    from .render import render_text

    try:
        _check_components(args, prior)
        use_knowledge_files(args.knowledge)
        policy = _policy(args)
    except ValueError as exc:  # a bad clue file, a bad --llm value or a model that cannot load
        print(f"sinoloc: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    options = {"ocr_backend": args.ocr, "ignore_exif": args.ignore_exif, "top_k": args.top_k,
               "max_model_calls": args.max_model_calls, "max_tool_calls": args.max_tool_calls,
               "max_seconds": args.max_seconds, "offline": _offline(args), "prior": prior}
    if args.engine == "ray":
        return _locate_batch(args, images, None, engine=_ray_rows(args, options))
    locator = Geolocator(policy, ocr_backend=args.ocr)

    def locate(image: Path):
        return locator.locate(image, **options)

    if batch:
        return _locate_batch(args, images, locate)
    try:
        prediction = locate(images[0])
    except ImageInputError as exc:
        print(f"sinoloc: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.json:
        print(prediction.model_dump_json(indent=2))
    else:
        print(render_text(prediction, width=_terminal_width()))
    if args.map:
        from .mapview import write_map

        path = write_map(prediction, args.map)
        if not args.json:
            print(f"map: {path}")
    return EXIT_OK


def _engine_problem(args: argparse.Namespace, batch: bool) -> str | None:
    """What is wrong with --engine / --ray-address / --actors, Ray's absence included (before any
    model loads); None when nothing is."""
    ray_only = [f for f, v in (("--ray-address", args.ray_address), ("--actors", args.actors))
                if v is not None]
    if args.engine != "ray":
        return f"{', '.join(ray_only)}: only with --engine ray" if ray_only else None
    if not batch:
        return "--engine ray locates a batch: give several images, a folder, --out or --csv"
    if args.actors is not None and args.actors < 1:
        return "--actors must be at least 1"
    from ..eval.ray_engine import on_loopback, require_ray  # the CLI's lazy eval entry
    from ..eval.runner import RunError

    try:
        require_ray(loopback=on_loopback(args.ray_address))
    except RunError as exc:
        return str(exc)
    return None


def _ray_rows(args: argparse.Namespace, options: dict):
    """``--engine ray``: the batch's rows from eval's actor pool, each actor building its
    locator from the settings resolved here (so the rows are those of the local engine)."""
    from ..eval.ray_engine import RayOptions, ray_locate_many
    from ..eval.runner import RunError
    from .batch import BatchRow, BatchSettings, EngineError
    from .knowledge_cli import USER_FILES_ENV

    settings = BatchSettings(llm=_spec(args).model_dump(), options=options,
                             knowledge_files=os.environ.get(USER_FILES_ENV, "")).model_dump_json()
    ray_options = RayOptions(address=args.ray_address, actors=args.actors or 2)

    def rows(paths: list[Path]):
        try:
            for answer in ray_locate_many(paths, settings, ray_options):
                yield BatchRow.model_validate(answer)
        except RunError as exc:
            raise EngineError(str(exc)) from None

    return rows


def _terminal_width() -> int | None:
    """Wrap text to the terminal; piped output keeps whole lines (for grep)."""
    import shutil

    return shutil.get_terminal_size().columns if sys.stdout.isatty() else None


class _Terminated(Exception):
    """SIGTERM during a batch: stop after the rows already written."""


def _on_sigterm(signum, frame):  # the signal module's signature
    raise _Terminated


def _locate_batch(args: argparse.Namespace, images: list[Path], locate, engine=None) -> int:
    """Every image through :func:`.batch.locate_many` (or ``engine(paths)``, another engine
    yielding the same rows); rows to stdout or --out (resumable), a progress line on a terminal;
    exit 2 at the end if any row failed."""
    import signal

    from ..eval.progress import Progress
    from .batch import EngineError, RowSink, finished_images, locate_many, output_format
    from .render import headline

    fmt = output_format(args.out, args.csv)
    out = Path(args.out) if args.out else None
    try:
        done = finished_images(out, fmt) if out else {}
    except ValueError as exc:  # --out names a file that is not an earlier run's rows
        print(f"sinoloc: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    todo = [p for p in images if os.path.abspath(p) not in done]
    failed_before = sum(not done[k] for k in {os.path.abspath(p) for p in images} & done.keys())
    meter = Progress(len(images), done=len(images) - len(todo),
                     enabled=sys.stderr.isatty() if args.progress is None else args.progress)
    stream = out.open("a", encoding="utf-8", newline="") if out else sys.stdout
    text = out is None and not args.json and not args.csv
    sink = None if text else RowSink(stream, fmt, header=not (out and out.stat().st_size))
    failed = 0
    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        rows = engine(todo) if engine else locate_many(todo, locate, workers=args.workers)
        for row in rows:
            failed += not row.ok
            if sink is not None:
                sink.write(row)
            else:
                from .schemas import GeoPrediction

                answer = (headline(GeoPrediction.model_validate(row.prediction)) if row.ok
                          else f"error: {row.error.removeprefix(row.file + ': ')}")
                print(f"{row.file}: {answer}", flush=True)
            meter.step("ok" if row.ok else "error")
    except (KeyboardInterrupt, _Terminated) as exc:
        meter.close()
        how, code = ("SIGTERM", 143) if isinstance(exc, _Terminated) else ("SIGINT", 130)
        resume = " run the same command again to resume" if out else ""
        print(f"sinoloc: stopped by {how} after {meter.new} new row(s);{resume}".rstrip(";"),
              file=sys.stderr)
        return code
    except EngineError as exc:
        meter.close()
        print(f"sinoloc: {exc} (after {meter.new} new row(s))", file=sys.stderr)
        return EXIT_ERROR
    finally:
        signal.signal(signal.SIGTERM, previous)
        if out:
            stream.close()
    meter.close()
    failed += failed_before
    if out:
        print(f"{len(images)} image(s): {meter.new} located now, {len(images) - len(todo)} "
              f"already in {out}; {failed} failed", file=sys.stderr)
    elif failed:
        print(f"sinoloc: {failed} of {len(todo)} image(s) failed", file=sys.stderr)
    return EXIT_BAD_INPUT if failed else EXIT_OK


def _chat(args: argparse.Namespace) -> int:
    from .chat.threads import ThreadStore, check_thread_id, default_db_path

    db = Path(args.db) if args.db else default_db_path()
    if args.list:
        if not db.exists():
            print(f"no threads yet ({db})")
            return EXIT_OK
        with ThreadStore(db) as store:
            _print_threads(store.threads(), db)
        return EXIT_OK

    from .chat.repl import ChatRepl, interactive
    from .chat.session import ChatSession
    from .knowledge_cli import use_files as use_knowledge_files

    try:
        if args.thread:
            check_thread_id(args.thread)  # the id names files (/map): a bad one is bad input
        prior = _prior(args)
        _check_components(args, prior)
        use_knowledge_files(args.knowledge)
        policy = _policy(args)
    except ValueError as exc:
        print(f"sinoloc: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    defaults = {"ocr_backend": args.ocr, "ignore_exif": args.ignore_exif,
                "max_model_calls": args.max_model_calls, "max_tool_calls": args.max_tool_calls,
                "max_seconds": args.max_seconds, "offline": _offline(args),
                "prior": prior}
    with ThreadStore(db) as store:
        resumed = bool(args.thread) and store.exists(args.thread)
        session = ChatSession(store, policy, args.thread, defaults)
        tty = interactive()
        repl = ChatRepl(session, echo=not tty, open_browser=tty)
        # OCR models and phone data load while the person types: started after the session
        # is built, so the first prompt does not wait on the interpreter lock
        _start_warm_up(args.ocr, prior)
        if tty:
            _enable_line_editing()
        if resumed:
            print(f"resuming thread {session.thread_id} ({policy.name}); /help lists commands")
            repl.show_transcript()
        else:
            print(f"thread {session.thread_id} ({policy.name}); resume it with "
                  f"`sinoloc chat --thread {session.thread_id}`; /help lists commands")
        repl.run(args.images)
    return EXIT_OK


def _print_threads(threads, db: Path) -> None:
    import time

    if not threads:
        print(f"no threads yet ({db})")
    for t in threads:
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(t.updated))
        # the answer beside the image it is about (a store from before last_image: the first)
        image = t.last_image or (t.first_image if t.images <= 1 else None)
        about = f"{Path(image).name}: {t.last_answer or '(no answer yet)'}" if image else \
            (t.last_answer or "-")
        print(f"{t.thread_id}  {when}  {t.images} image(s), {t.questions} question(s)  {about}")


def _enable_line_editing() -> None:
    import contextlib

    with contextlib.suppress(ImportError):  # Windows without pyreadline
        import readline  # noqa: F401 - importing it gives input() history and editing


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=os.environ.get("SINOLOC_LOG", "WARNING").upper(),
                        format="%(levelname)s %(name)s: %(message)s")
    args = _parser().parse_args(argv)
    try:
        return _run(args)
    finally:
        _finish_warm_ups()


def _run(args: argparse.Namespace) -> int:
    try:
        if args.command == "locate":
            return _locate(args)
        if args.command == "chat":
            return _chat(args)
        if args.command == "eval":
            from ..eval.cli import main as eval_main

            return eval_main(args)
        if args.command == "sft":
            from .sft.cli import main as sft_main

            return sft_main(args)
        if args.command == "knowledge":
            from .knowledge_cli import main as knowledge_main

            return knowledge_main(args)
        if args.command == "prior":
            from .prior_cli import main as prior_main

            return prior_main(args)
        if args.command == "serve":
            from .serve_cli import main as serve_main

            return serve_main(args)
    except KeyboardInterrupt:
        print("sinoloc: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into `head`: stop quietly
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - silence the flush at exit
        return EXIT_OK
    except Exception as exc:  # one clear line; SINOLOC_DEBUG=1 shows the traceback
        if os.environ.get("SINOLOC_DEBUG"):
            raise
        print(f"sinoloc: internal error: {exc.__class__.__name__}: {exc} "
              "(set SINOLOC_DEBUG=1 for the traceback)", file=sys.stderr)
        return EXIT_ERROR
    return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
