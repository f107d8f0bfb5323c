"""``sinoloc chat``: a conversation about one or more images, on threads kept in a SQLite store.

``--record-dir DIR`` records every run of the session into ``DIR/THREAD_ID`` (a new thread after
``/reset`` into its own folder); ``--replay DIR/THREAD_ID IMAGE…`` asks that conversation again
from the record (app/chat/replay.py): exit 0 when every run replayed, 1 at the first request the
record lacks (one line naming it, with ``--replay-miss stop``), 2 for bad input (an edited or
torn record: the file and line; a recorded image not among the files given)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from sinoloc.app.cli.common import EXIT_BAD_INPUT, EXIT_ERROR, EXIT_OK
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
    if args.replay is not None:
        return replay(args)
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
                              resume_options=_db_option(args.db),
                              runs=_recorder(args.record_dir, policy, built.defaults))
        session.review = args.review
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


def _recorder(folder: Path | None, policy, defaults: dict):
    """``--record-dir``: each thread's runs into ``folder/THREAD_ID`` (None: nothing recorded)."""
    if folder is None:
        return None
    from sinoloc.agent.records.threads import ThreadRecorder
    from sinoloc.eval.replay import RECORDED_SETTINGS

    return ThreadRecorder(folder.expanduser(), backend=getattr(policy, "name", None),
                          settings={k: v for k, v in defaults.items() if k in RECORDED_SETTINGS})


def replay(args: argparse.Namespace) -> int:
    """``sinoloc chat --replay DIR IMAGE…`` (see the module)."""
    import tempfile

    from sinoloc.agent.records import RecordError, ReplayMiss, replay_policy
    from sinoloc.agent.records.threads import ThreadReplay
    from sinoloc.app.chat.repl import ChatRepl
    from sinoloc.app.chat.replay import images_by_hash, replay_conversation, replay_summary
    from sinoloc.app.chat.session import ChatSession
    from sinoloc.app.chat.threads import THREAD_ID, ThreadStore

    try:
        if args.thread or args.record_dir:
            raise ValueError("--replay asks a recorded conversation again on a throwaway "
                             "thread: without --thread and --record-dir")
        replayed = ThreadReplay(args.replay, args.replay_miss)
        images = images_by_hash(replayed, args.images)
        built = build_from_args(args, run_settings(args, ignore_exif=args.ignore_exif))
        llm_given = getattr(built.policy, "name", "deterministic") != "deterministic"
        live = built.policy if args.replay_miss == "live" and llm_given else None
        policy = replay_policy(replayed.record, live)
    except ValueError as exc:  # a RecordError too: the file and line
        print(f"sinoloc: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    print(f"replaying {len(replayed.runs)} run(s) of {args.replay} ({policy.name}) from the "
          "record: no model, no network")
    with tempfile.TemporaryDirectory(prefix="sinoloc-replay-") as tmp, \
            ThreadStore(Path(tmp) / "threads.sqlite") as store:
        # the recorded thread's id (and this command's --db): a reply that names the thread's
        # resume command reads as it did
        name = Path(args.replay).resolve().name
        session = ChatSession(store, policy, name if THREAD_ID.fullmatch(name) else None,
                              _recorded_settings(built.defaults, replayed.record.manifest.settings),
                              resume_options=_db_option(args.db), runs=replayed)
        try:
            replay_conversation(ChatRepl(session), replayed, images)
        except ReplayMiss as exc:
            print(f"sinoloc: replay miss: {exc}", file=sys.stderr)
            return EXIT_ERROR
        except RecordError as exc:
            print(f"sinoloc: {exc}", file=sys.stderr)
            return EXIT_BAD_INPUT
    print(replay_summary(replayed))
    return EXIT_OK


def _recorded_settings(defaults: dict, recorded: dict) -> dict:
    """The replay's request settings: the recorded session's (its manifest: offline, OCR backend,
    budgets) over this command's, as ``eval run --replay`` takes the recorded run's."""
    from sinoloc.agent.settings import LocateSettings

    return {**defaults, **{k: v for k, v in recorded.items() if k in LocateSettings.model_fields}}


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
