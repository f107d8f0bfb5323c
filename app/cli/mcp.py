"""``sinoloc mcp``: serve the geolocator to MCP clients (desktop assistants, IDE agents,
langchain-mcp-adapters) over stdio or Streamable HTTP.

With ``--transport stdio`` (the default) a client starts ``sinoloc mcp`` itself and talks over its
stdin/stdout. With ``--transport http`` it listens at ``http://127.0.0.1:PORT/mcp``; any other
``--host`` needs a token (``--token``, $SINOLOC_SERVE_TOKEN, or one generated and printed). The
operator's settings (``--llm``, ``--prior``, ``--offline``, ``--ocr``, ``--images DIR``) hold for
every call; clients choose bounded per-image settings only (agent/boundary.py, as ``serve``).
"""

from __future__ import annotations

import argparse
import sys

from sinoloc.app.cli.common import EXIT_BAD_INPUT, EXIT_OK


def add_parser(sub, env=None) -> None:
    from sinoloc.agent.settings import Environment
    from sinoloc.app.cli.options import add_run_options

    env = env or Environment.read()
    mcp = sub.add_parser("mcp", help="an MCP server: locate_image and friends for other agents",
                         description=__doc__.split("\n\n")[0])
    mcp.add_argument("--transport", choices=["stdio", "http"], default="stdio", help=(
        "stdio (a client starts this command; default) or http (Streamable HTTP at /mcp)"))
    mcp.add_argument("--host", default="127.0.0.1", help="with http: address to bind (default "
                     "127.0.0.1; anything else needs a token)")
    mcp.add_argument("--port", type=int, default=8765, help="with http: port (default 8765; 0: "
                     "any free port)")
    mcp.add_argument("--token", default=None, help="with http: the token clients must send as "
                     "'Authorization: Bearer TOKEN' (default: none on loopback, generated and "
                     "printed otherwise); also $SINOLOC_SERVE_TOKEN")
    mcp.add_argument("--workers", type=int, default=2, metavar="N", help="images located at "
                     "once (default 2); further calls wait")
    mcp.add_argument("--images", metavar="DIR", default=None, help="a folder clients may name "
                     "images in (default $SINOLOC_IMAGES_ROOT; none: data: URIs only)")
    add_run_options(mcp, env)


def build_locator(args: argparse.Namespace):
    """The warm locator for ``args``; raises ValueError on bad input (as ``serve``)."""
    from sinoloc.app.cli.serve import operator_setup
    from sinoloc.app.mcp.server import Locator

    policy, boundary, defaults = operator_setup(args)
    return Locator(policy, boundary=boundary, defaults=defaults, workers=args.workers)


def main(args: argparse.Namespace) -> int:
    from sinoloc.app.cli.serve import server_token, workers_in_range

    if not workers_in_range(args):
        return EXIT_BAD_INPUT
    try:
        from sinoloc.app.mcp.server import build_server
        from sinoloc.app.mcp.transport import http_app, serve_http
    except ImportError as exc:
        print("sinoloc: mcp needs the mcp extra: pip install '.[mcp]' in the sinoloc clone "
              f"({exc.name} is missing)", file=sys.stderr)
        return EXIT_BAD_INPUT
    token, generated = server_token(args.host, args.token) if args.transport == "http" \
        else (None, False)
    try:
        locator = build_locator(args)
    except ValueError as exc:
        print(f"sinoloc: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    from sinoloc.agent.settings import field_default
    from sinoloc.app.cli.warmup import warm_up

    warm_up(locator.defaults.get("ocr_backend", field_default("ocr_backend")), locator.boundary.prior)
    server = build_server(locator)
    import anyio

    if args.transport == "stdio":
        anyio.run(server.run_stdio_async)
        return EXIT_OK
    app = http_app(server, host=args.host, token=token,
                   max_upload_bytes=locator.boundary.upload_max_bytes)
    shown = f"[{args.host}]" if ":" in args.host else args.host

    async def announce(port: int) -> None:
        print(f"sinoloc mcp: http://{shown}:{port}/mcp  ({locator.policy_name} policy, "
              f"{locator.workers} worker(s); Ctrl-C stops)", flush=True)
        if generated:
            print(f"token (generated): {token}", flush=True)

    anyio.run(serve_http, app, args.host, args.port, announce)
    return EXIT_OK
