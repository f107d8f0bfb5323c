"""``sinoloc serve``: the local web app (app/web/) in one process that keeps the graph, the OCR
models, the region index and the knowledge warm.

It binds 127.0.0.1 by default. Any other ``--host`` needs a token (``--token``, or one generated
and printed): a geolocator reads private photos and may spend the operator's model quota.
The operator's settings (``--llm``, ``--prior``, ``--offline``, ``--ocr``) hold for every
request and are the ceiling of what a client may ask for (its model, its budgets); clients choose
per-request ``LocateSettings`` fields behind the trust boundary (agent/boundary.py). Uploads are
kept in the boundary's bounded store (tools/upload_store.py: by content hash, bounded by disk
usage, file count and age), threads in the chat's SQLite store within ``ThreadLimits``. What the
server enforces, route by route: docs/threat-model.md.
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
from pathlib import Path

from sinoloc.app.cli.common import EXIT_BAD_INPUT, EXIT_OK
from sinoloc.tools.privacy import is_loopback_host

ENV_ORIGINS = "SINOLOC_SERVE_ORIGINS"
SERVE_DESCRIPTION = ("The local web app: drop a photo, watch the agent's steps, see the answer "
                     "on a map. One process keeps the graph, the OCR models, the region index "
                     "and the knowledge warm; it binds 127.0.0.1 unless --host says otherwise "
                     "(then clients need a token).")



def add_parser(sub, env=None) -> None:
    from sinoloc.agent.settings import Environment
    from sinoloc.app.cli.options import add_run_options

    env = env or Environment.read()
    serve = sub.add_parser("serve", help="a local web app: drop a photo, watch the agent, see the map",
                           description=SERVE_DESCRIPTION)
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1; "
                       "anything else needs a token)")
    serve.add_argument("--port", type=int, default=8000, help="port (default 8000; 0: any free port)")
    serve.add_argument("--token", default=None, help="the token clients must send (default: none on "
                       "loopback, generated and printed otherwise); also $SINOLOC_SERVE_TOKEN")
    serve.add_argument("--workers", type=int, default=2, help="images located at once (default 2); "
                       "further requests queue")
    serve.add_argument("--db", metavar="PATH", help="the thread store (default $SINOLOC_CHAT_DB or "
                       "chat.sqlite in the user data directory)")
    serve.add_argument("--images", metavar="DIR", default=None, help="a folder clients may name "
                       "images in (default $SINOLOC_IMAGES_ROOT; none: uploads only)")
    serve.add_argument("--runs", metavar="DIR", default=None, help="also show the eval runs in DIR "
                       "(folders written by 'sinoloc eval run'): their reports and per-image maps at /runs")
    serve.add_argument("--allow-origin", metavar="ORIGIN", action="append", default=None,
                       help="another origin (scheme://host:port) whose pages may start runs "
                       "(repeatable; also $SINOLOC_SERVE_ORIGINS, comma-separated; default: "
                       "this server's own pages only)")
    serve.add_argument("--record-dir", metavar="DIR", default=None, help="keep run records "
                       "(model and tool exchanges, replayable) of the threads whose client asks "
                       "(the page's 'record' box, settings {\"record\": true}) in DIR/THREAD_ID; "
                       "without it the server records nothing")
    add_run_options(serve, env)


def server_token(host: str, given: str | None) -> tuple[str | None, bool]:
    """(token, generated): none on loopback unless given; beyond loopback the given one or a new one."""
    given = given or os.environ.get("SINOLOC_SERVE_TOKEN") or None
    if given or is_loopback_host(host):
        return given, False
    return secrets.token_urlsafe(18), True


def operator_setup(args: argparse.Namespace):
    """What a served surface (``serve``, ``mcp``) takes from its operator's options, checked
    before any client is answered: ``(policy, boundary, defaults)``, the boundary holding the
    operator's prior, offline rule and images root; raises ValueError on bad input."""
    from sinoloc.agent.boundary import OPERATOR_ONLY_FIELDS, ServeBoundary
    from sinoloc.app.cli.locator import build_from_args, run_settings

    built = build_from_args(args, run_settings(args))
    # the operator's checkpoint (clients may not name one) and offline rule hold for every run;
    # the operator's model and budgets are the ceiling of what a client may ask for
    operator: dict = {"prior": built.settings.prior, "offline": built.settings.offline,
                      "operator_model": built.policy.name,
                      **{name: getattr(built.settings, name)
                         for name in ("max_model_calls", "max_tool_calls", "max_seconds")}}
    boundary = ServeBoundary.from_env()
    if built.settings.samples > boundary.max_samples:  # the operator's own --samples raises the cap
        operator["max_samples"] = built.settings.samples
    if args.images:
        root = Path(args.images).expanduser().resolve()
        if not root.is_dir():
            raise ValueError(f"--images {args.images}: not a folder")
        operator["images_root"] = root
    boundary = boundary.model_copy(update=operator)
    defaults = {k: v for k, v in built.defaults.items() if k not in OPERATOR_ONLY_FIELDS}
    return built.policy, boundary, defaults


def build_runner(args: argparse.Namespace):
    """The warm runner for ``args`` (the checked locator, the boundary with the operator's
    prior and offline rule, the thread store with its bounds) and the operator's prior; raises
    ValueError on bad input."""
    from sinoloc.app.chat.threads import ThreadStore, default_db_path, thread_limits
    from sinoloc.app.web.runner import Runner
    from sinoloc.app.web.thread_records import ThreadRecords

    policy, boundary, defaults = operator_setup(args)
    records = None
    if getattr(args, "record_dir", None):
        folder = Path(args.record_dir).expanduser()
        if folder.exists() and not folder.is_dir():
            raise ValueError(f"--record-dir {args.record_dir}: not a folder")
        records = ThreadRecords(folder, boundary, backend=getattr(policy, "name", None))
    store = ThreadStore(Path(args.db) if args.db else default_db_path(), thread_limits())
    return Runner(store, policy, boundary=boundary, defaults=defaults, workers=args.workers,
                  records=records), boundary.prior


def server_config(app, host: str, port: int):
    """uvicorn's configuration: h11 with a deadline for a request's head
    (app/web/slow_clients.py), keep-alive connections closed after 5 idle seconds."""
    import uvicorn

    from sinoloc.app.web.slow_clients import HeadTimeoutH11

    return uvicorn.Config(app, host=host, port=port, log_level="warning", http=HeadTimeoutH11,
                          timeout_keep_alive=5)


def return_freed_memory() -> None:
    """Let the server give decoded images back to the system (glibc only; best effort).

    glibc raises its mmap threshold after the first large free, after which Pillow's 16 MB
    image blocks come from per-thread heaps that are never returned: a server that decoded six
    120 MP uploads kept 1.4 GB. A fixed threshold (4 MB) keeps large blocks mmap-ed (returned on
    free), and at most four heaps are made for the worker threads."""
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
        mallopt = libc.mallopt if libc is not None else None
    except (OSError, AttributeError):  # not glibc: its own allocator decides
        return
    if mallopt is not None:
        mallopt(-3, 4 * 1024 * 1024)  # M_MMAP_THRESHOLD
        mallopt(-8, 4)  # M_ARENA_MAX


def warm(runner) -> None:
    """Load what the first request would otherwise wait for: OCR, phone data and the region
    index (the CLI's warm-up) and the map's outlines."""
    from sinoloc.agent.settings import field_default
    from sinoloc.app.cli.warmup import warm_up
    from sinoloc.app.web.app import _base_json

    warm_up(runner.defaults.get("ocr_backend", field_default("ocr_backend")), runner.boundary.prior)
    _base_json()


def workers_in_range(args: argparse.Namespace) -> bool:
    """``--workers`` between 1 and 16 (else one line on stderr)."""
    if 1 <= args.workers <= 16:
        return True
    print("sinoloc: --workers must be between 1 and 16", file=sys.stderr)
    return False


def main(args: argparse.Namespace) -> int:
    if not workers_in_range(args):
        return EXIT_BAD_INPUT
    try:
        import uvicorn

        from sinoloc.app.web.app import create_app
    except ImportError as exc:
        print("sinoloc: serve needs the web extra: pip install '.[serve]' in the sinoloc clone "
              f"({exc.name} is missing)", file=sys.stderr)
        return EXIT_BAD_INPUT
    token, generated = server_token(args.host, args.token)
    routers = []
    if args.runs:  # the eval report viewer: imported only when asked for
        from sinoloc.app.web.runs import runs_router

        try:
            routers.append(runs_router(Path(args.runs)))
        except ValueError as exc:
            print(f"sinoloc: {exc}", file=sys.stderr)
            return EXIT_BAD_INPUT
    try:
        runner, _ = build_runner(args)
    except ValueError as exc:
        print(f"sinoloc: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    return_freed_memory()
    warm(runner)
    origins = [*(args.allow_origin or []), *filter(None, (
        o.strip() for o in os.environ.get(ENV_ORIGINS, "").split(",")))]
    app = create_app(runner, token=token, routers=routers, allowed_origins=origins)
    config = server_config(app, args.host, args.port)
    server = uvicorn.Server(config)
    shown = f"[{args.host}]" if ":" in args.host else args.host

    async def announce() -> None:
        port = server.servers[0].sockets[0].getsockname()[1] if server.servers else args.port
        query = f"/?token={token}" if token else "/"
        print(f"sinoloc serve: http://{shown}:{port}{query}  ({runner.policy_name} policy, "
              f"{runner.workers} worker(s); Ctrl-C stops)", flush=True)
        if routers:
            print(f"eval runs: http://{shown}:{port}/runs", flush=True)
        if generated:
            print(f"token (generated): {token}", flush=True)

    import asyncio

    async def serve() -> None:
        task = asyncio.create_task(server.serve())
        while not server.started and not task.done():
            await asyncio.sleep(0.05)
        if server.started:
            await announce()
        await task

    try:
        asyncio.run(serve())
    finally:
        runner.store.close()
    return EXIT_OK
