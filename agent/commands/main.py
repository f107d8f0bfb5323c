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
    from sinoloc.agent.settings import field_bounds, field_default

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
    low, high = field_bounds("top_k")
    locate.add_argument("--top-k", type=int, default=field_default("top_k"), metavar="N",
                        help=f"candidate districts to list ({low:g}-{high:g})")
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
    from sinoloc.agent.commands.knowledge import add_parser as add_knowledge_parser
    from sinoloc.eval.cli import add_parser as add_eval_parser

    add_eval_parser(sub)
    add_knowledge_parser(sub)
    from sinoloc.agent.commands.sft import add_parser as add_sft_parser

    add_sft_parser(sub)
    from sinoloc.agent.commands.prior import add_parser as add_prior_parser

    add_prior_parser(sub)
    from sinoloc.agent.commands.serve import add_parser as add_serve_parser

    add_serve_parser(sub)
    from sinoloc.agent.commands.help import finish_help

    return finish_help(parser)


def _add_run_options(parser: argparse.ArgumentParser) -> None:
    """OCR, language model, budgets and clue files: shared by locate and chat."""
    from sinoloc.agent.settings import field_default

    parser.add_argument("--ocr", default=os.environ.get("SINOLOC_OCR", field_default("ocr_backend")),
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
    from sinoloc.agent.commands.options import add_budget_options

    add_budget_options(llm)
    llm.add_argument("--model-timeout", type=float, default=60.0, metavar="SECONDS",
                     help="limit on one model call (within --max-seconds)")
    from sinoloc.agent.commands.knowledge import add_files_argument

    add_files_argument(parser)


def _version() -> str:
    from sinoloc import __version__

    return f"sinoloc {__version__}"


def _warm_up(ocr_backend: str, prior: str | None = None, text_data: bool = True,
             image: Path | None = None) -> None:
    """Load the OCR models, the visual prior and the offline data while the main thread imports
    the graph: model loading and inference release the GIL, so this overlaps for real.
    ``text_data``: also the data only some texts need, the phone geodata and the town tables
    (0.6 s of CPU: one image loads them only if its text calls for them, but a chat or a batch
    will likely meet such a text). ``image``: the one image of the run, whose default views are
    read for the graph's first OCR (:mod:`sinoloc.tools.ocr.speculative`) on a thread of their
    own, outside the GIL, while this one loads the offline data."""
    try:
        if prior:
            from sinoloc.tools.prior.inference import get_predictor

            get_predictor(prior)
    except Exception as exc:  # the tool reports it when it runs
        logging.getLogger(__name__).debug("prior warm-up failed: %s", exc)
    read_ahead = image is not None
    try:
        from sinoloc.tools.ocr import get_engine

        engine = get_engine(ocr_backend)
        warm = getattr(engine, "warm_up", None)
        if warm is not None:
            warm()
        if image is not None:
            _start_thread(_prefetch_ocr, image, engine)
            read_ahead = False  # handed over
        from sinoloc.tools.clues import extract_text_clues

        # knowledge files, region index, gazetteer and sign corpus (every text needs them)
        extract_text_clues("0571-88886666" if text_data else "")
        if not prior:  # the start of a run without a visual prior: where people live
            from sinoloc.tools.places.population import district_weights
            from sinoloc.tools.regions import get_region_index

            district_weights(get_region_index())
    except Exception as exc:
        logging.getLogger(__name__).debug("warm-up failed: %s", exc)
    finally:
        if read_ahead:  # the engine failed: the graph's OCR stops waiting for the read ahead
            from sinoloc.tools.ocr.speculative import abandon

            abandon()


def _prefetch_ocr(image: Path, engine) -> None:
    from sinoloc.tools.ocr.speculative import abandon

    try:
        from sinoloc.tools.ocr import prefetch_views

        prefetch_views(image, engine)
    except Exception as exc:  # an unreadable image: the run reports it
        logging.getLogger(__name__).debug("OCR prefetch failed: %s", exc)
    finally:
        abandon()  # after the read has started this changes nothing


_WARM_UPS: list = []
WARM_UP_JOIN_S = 30.0


def _start_warm_up(ocr_backend: str, prior: str | None = None, text_data: bool = True,
                   image: Path | None = None) -> None:
    if image is not None:  # before the thread starts: the graph's first OCR may not come first
        from sinoloc.tools.ocr.speculative import open_prefetch

        open_prefetch()
    _start_thread(_warm_up, ocr_backend, prior, text_data, image)


def _start_thread(target, *args) -> None:
    """A daemon thread that :func:`_finish_warm_ups` waits for (a warm-up may start another
    before it ends: the wait goes on until none is left)."""
    import threading

    thread = threading.Thread(target=target, args=args, daemon=True)
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
    from sinoloc.agent.policies import build_policy
    from sinoloc.agent.settings import check_policy, check_spec

    spec = _spec(args)
    check_spec(spec, args.offline)  # before building: a hosted model needs no key to be refused
    try:
        policy = build_policy(spec)
    except Exception as exc:
        # imported here: its module loads LangChain's model classes, which no other policy needs
        from sinoloc.agent.llm.qwen_local import LocalModelError

        if isinstance(exc, LocalModelError):
            raise ValueError(str(exc)) from exc
        raise
    check_policy(policy, args.offline)
    return policy


def _spec(args: argparse.Namespace):
    from sinoloc.agent.llm import LlmSpec

    return LlmSpec.parse(args.llm, args.base_url, max_tokens=args.max_tokens,
                         timeout_s=args.model_timeout)


def _offline(args: argparse.Namespace) -> bool:
    from sinoloc.agent.settings import is_offline

    return is_offline(args.offline)


def _check_components(args: argparse.Namespace, prior: str | None) -> None:
    """The OCR backend and prior asked for can load (before any work; ValueError if not)."""
    from sinoloc.agent.components import check_components

    check_components(args.ocr, prior, args.offline)


def _prior(args: argparse.Namespace) -> str | None:
    from sinoloc.tools.prior import configured_checkpoint

    return configured_checkpoint(args.prior)


def _chat(args: argparse.Namespace) -> int:
    from sinoloc.agent.chat.threads import ThreadStore, check_thread_id, default_db_path

    db = Path(args.db) if args.db else default_db_path()
    if args.list:
        if not db.exists():
            print(f"no threads yet ({db})")
            return EXIT_OK
        with ThreadStore(db) as store:
            _print_threads(store.threads(), db)
        return EXIT_OK

    from sinoloc.agent.chat.repl import ChatRepl, interactive
    from sinoloc.agent.chat.session import ChatSession
    from sinoloc.agent.commands.knowledge import use_files as use_knowledge_files

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
            from sinoloc.agent.commands.locate import locate

            return locate(args)
        if args.command == "chat":
            return _chat(args)
        if args.command == "eval":
            from sinoloc.eval.cli import main as eval_main

            return eval_main(args)
        if args.command == "sft":
            from sinoloc.agent.commands.sft import main as sft_main

            return sft_main(args)
        if args.command == "knowledge":
            from sinoloc.agent.commands.knowledge import main as knowledge_main

            return knowledge_main(args)
        if args.command == "prior":
            from sinoloc.agent.commands.prior import main as prior_main

            return prior_main(args)
        if args.command == "serve":
            from sinoloc.agent.commands.serve import main as serve_main

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
    # `python -m` runs this file as __main__ while the commands import it by name: run the named
    # module's main, so that there is one list of warm-up threads and exit waits for them
    from sinoloc.agent.commands.main import main as named_main

    sys.exit(named_main())
