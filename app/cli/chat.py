"""``sinoloc chat``: a conversation about one or more images, on threads kept in a SQLite store."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from sinoloc.app.cli.common import EXIT_BAD_INPUT, EXIT_OK
from sinoloc.app.cli.locator import build_from_args, model_spec, run_settings
from sinoloc.app.cli.warmup import start_warm_up


def chat(args: argparse.Namespace) -> int:
    """``sinoloc chat``: list threads, or open one (new or resumed) and talk about its images."""
    from sinoloc.app.chat.threads import ThreadStore, check_thread_id, default_db_path

    db = Path(args.db) if args.db else default_db_path()
    if args.list:
        if not db.exists():
            print(f"no threads yet ({db})")
            return EXIT_OK
        with ThreadStore(db) as store:
            print_threads(store.threads(), db)
        return EXIT_OK

    try:  # a hosted model in an offline run: refused before the graph and any model load
        from sinoloc.agent.settings import check_spec, is_offline

        check_spec(model_spec(args), is_offline(args.offline))
    except ValueError as exc:
        print(f"sinoloc: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    from sinoloc.app.chat.repl import ChatRepl, interactive
    from sinoloc.app.chat.session import ChatSession

    try:
        if args.thread:
            check_thread_id(args.thread)  # the id names files (/map): a bad one is bad input
            _require_thread(db, args.thread, args.db)
        built = build_from_args(args, run_settings(args, ignore_exif=args.ignore_exif))
    except ValueError as exc:
        print(f"sinoloc: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    policy, prior = built.policy, built.settings.prior
    with ThreadStore(db) as store:
        resumed = bool(args.thread)
        session = ChatSession(store, policy, args.thread, built.defaults,
                              resume_options=_db_option(args.db))
        tty = interactive()
        repl = ChatRepl(session, echo=not tty, open_browser=tty)
        # OCR models and phone data load while the person types: started after the session
        # is built, so the first prompt does not wait on the interpreter lock
        start_warm_up(args.ocr, prior)
        if tty:
            enable_line_editing()
        if resumed:
            print(f"resuming thread {session.thread_id} ({policy.name}); /help lists commands")
            repl.show_transcript()
        else:
            print(f"thread {session.thread_id} ({policy.name}); resume it with "
                  f"`{session.resume_command()}`; /help lists commands")
        repl.run(args.images)
    return EXIT_OK


def _db_option(db: str | None) -> str:
    """`` --db PATH`` for a store given on the command line (a resume command must name it)."""
    import shlex

    return f" --db {shlex.quote(str(Path(db).expanduser().resolve()))}" if db else ""


def _require_thread(db: Path, thread_id: str, db_arg: str | None) -> None:
    """``--thread`` resumes a thread the store holds; an unknown id is bad input (ValueError),
    never a new empty thread under that id. Checked before any model loads."""
    from sinoloc.app.chat.threads import ThreadStore

    known = False
    if db.exists():
        with ThreadStore(db) as store:
            known = store.exists(thread_id)
    if not known:
        raise ValueError(f"no thread {thread_id} in {db} (`sinoloc chat --list"
                         f"{_db_option(db_arg)}` lists the threads there)")


def print_threads(threads, db: Path) -> None:
    """One line per thread: its id, when, how many images and questions, the last answer."""
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


def enable_line_editing() -> None:
    import contextlib

    with contextlib.suppress(ImportError):  # Windows without pyreadline
        import readline  # noqa: F401 - importing it gives input() history and editing
