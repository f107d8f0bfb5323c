"""``sinoloc serve``: the local web app (app/web/) in one process that keeps the graph, the OCR
models, the region index and the knowledge warm.

It binds 127.0.0.1 by default. Any other ``--host`` needs a token (``--token``, or one generated
and printed): a geolocator reads private photos and may spend the operator's model quota.
The operator's settings (``--llm``, ``--prior``, ``--offline``, ``--ocr``) hold for every
request; clients choose per-request ``LocateSettings`` fields behind the trust boundary
(agent/boundary.py). Uploads are kept in the boundary's bounded store (by content hash, pruned
by size and age: ``SINOLOC_UPLOAD_STORE_MB``, ``SINOLOC_UPLOAD_MAX_AGE_H``), threads in the chat's
SQLite store.
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
from pathlib import Path

from sinoloc.app.cli.main import EXIT_BAD_INPUT, EXIT_OK
from sinoloc.tools.privacy import is_loopback_host

SERVE_DESCRIPTION = ("The local web app: drop a photo, watch the agent's steps, see the answer "
                     "on a map. One process keeps the graph, the OCR models, the region index "
                     "and the knowledge warm; it binds 127.0.0.1 unless --host says otherwise "
                     "(then clients need a token).")


def add_parser(sub) -> None:
    from sinoloc.app.cli.main import _add_run_options

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
    _add_run_options(serve)


def server_token(host: str, given: str | None) -> tuple[str | None, bool]:
    """(token, generated): none on loopback unless given; beyond loopback the given one or a new one."""
    given = given or os.environ.get("SINOLOC_SERVE_TOKEN") or None
    if given or is_loopback_host(host):
        return given, False
    return secrets.token_urlsafe(18), True


def build_runner(args: argparse.Namespace):
    """The warm runner for ``args`` (policy, boundary, store); raises ValueError on bad input."""
    from sinoloc.agent.boundary import ServeBoundary
    from sinoloc.app.chat.threads import ThreadStore, default_db_path
    from sinoloc.app.cli.knowledge import use_files as use_knowledge_files
    from sinoloc.app.cli.main import _check_components, _offline, _policy, _prior
    from sinoloc.app.web.runner import Runner

    prior = _prior(args)
    _check_components(args, prior)
    use_knowledge_files(args.knowledge)
    policy = _policy(args)
    if prior:  # the operator's checkpoint: clients may not name one (boundary.OPERATOR_ONLY_FIELDS)
        os.environ["SINOLOC_PRIOR_CHECKPOINT"] = prior
    if _offline(args):  # the offline rule for every run, whatever a client sends
        os.environ["SINOLOC_OFFLINE"] = "1"
    boundary = ServeBoundary.from_env()
    if args.images:
        boundary = boundary.model_copy(update={"images_root": Path(args.images).expanduser().resolve()})
    store = ThreadStore(Path(args.db) if args.db else default_db_path())
    defaults = {"ocr_backend": args.ocr, "max_model_calls": args.max_model_calls,
                "max_tool_calls": args.max_tool_calls, "max_seconds": args.max_seconds,
                "offline": _offline(args)}
    return Runner(store, policy, boundary=boundary, defaults=defaults, workers=args.workers), prior


def warm(runner) -> None:
    """Load what the first request would otherwise wait for: OCR, phone data and the region
    index (the CLI's warm-up) and the map's outlines."""
    from sinoloc.app.cli.warmup import warm_up
    from sinoloc.app.web.app import _base_json

    warm_up(runner.defaults.get("ocr_backend", "rapidocr"), os.environ.get("SINOLOC_PRIOR_CHECKPOINT"))
    _base_json()


def main(args: argparse.Namespace) -> int:
    if not 1 <= args.workers <= 16:
        print("sinoloc: --workers must be between 1 and 16", file=sys.stderr)
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
    if args.runs:  # the eval report viewer lives in eval/: imported only when asked for
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
    warm(runner)
    app = create_app(runner, token=token, routers=routers)
    config = uvicorn.Config(app, host=args.host, port=args.port, log_level="warning")
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
