"""The ``sinoloc`` command line."""

from __future__ import annotations

import argparse
import logging
import os
import sys

from sinoloc.app.cli.common import EXIT_ERROR, EXIT_OK

LOCATE_DESCRIPTION = (
    "Locate photos or street-view panoramas taken in China: province / city / district and "
    "WGS-84 coordinates, with the evidence behind them. Several images, folders or glob "
    "patterns run in one process with the models loaded once; a file that cannot be read is "
    "its own row with its error. Exit codes: 0 every image located; 1 internal error; 2 bad "
    "arguments or input (for several images: at least one row failed, reported at the end); "
    "130 / 143 stopped by SIGINT / SIGTERM (with --out, run it again to resume).")


def _parser(env=None) -> argparse.ArgumentParser:
    """The parser; ``env`` (:class:`~sinoloc.agent.settings.Environment`, read here when not
    given) supplies the defaults the environment sets."""
    from sinoloc.agent.settings import Environment, field_bounds, field_default
    from sinoloc.app.cli.options import add_run_options

    env = env or Environment.read()

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
        "locators on a Ray cluster, same rows; pip install '.[ray]' in the sinoloc clone)"))
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
    add_run_options(locate, env)
    from sinoloc.agent.records.options import add_record_options

    add_record_options(locate)
    chat = sub.add_parser("chat", help="a conversation about one or more images, with threads",
                          description=(
                              "Locate images and ask about the answers; every step streams as "
                              "it happens. Threads persist in SQLite: --thread ID resumes one. "
                              "--record-dir DIR records every run of the session into "
                              "DIR/THREAD_ID; --replay DIR/THREAD_ID IMAGE… asks that "
                              "conversation again from the record, no model and no network "
                              "(exit codes: 0 replayed, 1 a request the record lacks, 2 bad "
                              "input: a torn or edited record, an image not given)."))
    chat.add_argument("images", nargs="*", metavar="IMAGE", help="images to locate first")
    chat.add_argument("--thread", metavar="ID", help="resume (or create) the thread ID")
    chat.add_argument("--list", action="store_true", help="list the saved threads and exit")
    chat.add_argument("--review", action="store_true", help="stop each new image before its "
                      "answer is committed, as /review on does (/approve, /edit, /reject, /clue)")
    chat.add_argument("--db", metavar="PATH", help="the thread store (default $SINOLOC_CHAT_DB "
                      "or chat.sqlite in the user data directory)")
    chat.add_argument("--ignore-exif", action="store_true", help="do not use EXIF GPS")
    add_run_options(chat, env)
    from sinoloc.agent.records.options import add_chat_record_options

    add_chat_record_options(chat)
    from sinoloc.app.cli.eval import add_parser as add_eval_parser
    from sinoloc.app.cli.knowledge import add_parser as add_knowledge_parser

    add_eval_parser(sub, env)
    add_knowledge_parser(sub)
    from sinoloc.app.cli.sft import add_parser as add_sft_parser

    add_sft_parser(sub)
    from sinoloc.app.cli.prior import add_parser as add_prior_parser

    add_prior_parser(sub)
    from sinoloc.app.cli.serve import add_parser as add_serve_parser

    add_serve_parser(sub, env)
    from sinoloc.app.cli.mcp import add_parser as add_mcp_parser

    add_mcp_parser(sub, env)
    from sinoloc.app.cli.help import finish_help

    return finish_help(parser)


def _version() -> str:
    from sinoloc import __version__

    return f"sinoloc {__version__}"


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=os.environ.get("SINOLOC_LOG", "WARNING").upper(),
                        format="%(levelname)s %(name)s: %(message)s")
    args = _parser().parse_args(argv)
    try:
        return _run(args)
    finally:
        from sinoloc.app.cli.warmup import finish_warm_ups

        finish_warm_ups()


def _run(args: argparse.Namespace) -> int:
    try:
        if args.command == "locate":
            from sinoloc.app.cli.locate import locate

            return locate(args)
        if args.command == "chat":
            from sinoloc.app.cli.chat import chat

            return chat(args)
        if args.command == "eval":
            from sinoloc.app.cli.eval import main as eval_main

            return eval_main(args)
        if args.command == "sft":
            from sinoloc.app.cli.sft import main as sft_main

            return sft_main(args)
        if args.command == "knowledge":
            from sinoloc.app.cli.knowledge import main as knowledge_main

            return knowledge_main(args)
        if args.command == "prior":
            from sinoloc.app.cli.prior import main as prior_main

            return prior_main(args)
        if args.command == "serve":
            from sinoloc.app.cli.serve import main as serve_main

            return serve_main(args)
        if args.command == "mcp":
            from sinoloc.app.cli.mcp import main as mcp_main

            return mcp_main(args)
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
    from sinoloc.app.cli.main import main as named_main

    sys.exit(named_main())
